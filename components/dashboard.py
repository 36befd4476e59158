"""Dashboard: the static page on a private S3 bucket, and its API, behind one CloudFront distribution.

Choice for the API: a **Lambda function URL with ``AWS_IAM`` auth, fronted by CloudFront
with a Lambda Origin Access Control** -- not an API Gateway HTTP API. The API is a handful
of read-only GETs; a function URL adds no per-request charge and no extra service, and
with OAC the URL refuses every request that CloudFront did not sign (SigV4), so the only
way in is through the distribution, with its TLS policy, security headers and cache. (The
one OAC caveat -- POST/PUT bodies must be hashed by the client -- does not apply to GETs.)

Layout:
- ``/``       -> S3 site bucket via an S3 OAC; objects are SSE-KMS with the dashboard's own
                 key, whose policy lets only this distribution decrypt. The deployment
                 uploads the static page; the pipeline's ``dashboard_refresh`` function
                 (also here) writes the query results under ``data/``;
- ``/api/*``  -> the API function URL; the cache key includes the query string and honours
                 the API's ``Cache-Control``, so repeated questions never reach Athena.
The page reads ``config.js``; the deployed copy sets ``apiBase: "/api"`` (the repository's
copy reads local JSON files), so the page and the API share one origin and need no CORS.

Viewer TLS: CloudFront's default ``*.cloudfront.net`` certificate always allows TLSv1
(CloudFront ignores a higher minimum there). Setting ``dashboardDomain`` and
``dashboardCertificateArn`` serves the site on your domain with SNI and a TLSv1.2_2021
minimum. HTTP is redirected to HTTPS either way.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from components import iam, naming
from components.buckets import BucketSpec, attach_policy, lifecycle_rule, secure_bucket
from components.functions import LambdaFunction, LambdaFunctionArgs, function_timeout
from components.settings import DashboardSettings, FunctionSettings
from ecomlake.contract import EnvVar
from ecomlake.pipeline import PipelineFunction

SITE_ORIGIN: Final = "site"
API_ORIGIN: Final = "api"
API_PATH: Final = "/api/*"
DEFAULT_ROOT_OBJECT: Final = "index.html"
MIN_TLS_CUSTOM_DOMAIN: Final = "TLSv1.2_2021"
# CloudFront managed policies, looked up by name at deploy time.
CACHE_STATIC: Final = "Managed-CachingOptimized"
CACHE_API: Final = "Managed-UseOriginCacheControlHeaders-QueryStrings"
CONFIG_JS: Final = "config.js"
SITE_DATA_PREFIX: Final = "data"  # written by the dashboard refresh step, never by the deployment
REFRESH_HANDLER: Final = "handlers.dashboard_refresh.handler"
DEPLOYED_CONFIG_JS: Final = (
    "/* Written by the deployment (components/dashboard.py): read data from the API on this origin. */\n"
    'window.ECOMLAKE_CONFIG = { apiBase: "/api" };\n'
)
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'none'; frame-ancestors 'none'"
)
_CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


@dataclass(frozen=True)
class SiteFile:
    key: str
    path: Path | None  # None: ``content`` is uploaded instead of a file
    content_type: str
    cache_control: str
    content: str | None = None


def site_files(static_dir: Path) -> list[SiteFile]:
    """Every file of the static page, with its content type and caching; ``config.js`` replaced."""
    if not (static_dir / DEFAULT_ROOT_OBJECT).is_file():
        raise FileNotFoundError(f"{static_dir / DEFAULT_ROOT_OBJECT} is missing: nothing to publish")
    files = []
    for path in sorted(p for p in static_dir.rglob("*") if p.is_file()):
        key = path.relative_to(static_dir).as_posix()
        if key.startswith(".") or "/." in key or key == CONFIG_JS or key.startswith(f"{SITE_DATA_PREFIX}/"):
            continue
        content_type = _CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "binary/octet-stream"
        # The vendored library's name carries its version, so it can be cached for a year;
        # the page itself must pick up a deployment within minutes.
        cache = "public, max-age=31536000, immutable" if key.startswith("vendor/") else "public, max-age=300"
        files.append(SiteFile(key, path, content_type, cache))
    files.append(SiteFile(CONFIG_JS, None, _CONTENT_TYPES[".js"], "no-cache", DEPLOYED_CONFIG_JS))
    return files


def function_url_host(url: str) -> str:
    """``https://abc.lambda-url.eu-west-1.on.aws/`` -> ``abc.lambda-url.eu-west-1.on.aws``."""
    return url.removeprefix("https://").split("/", 1)[0]


@dataclass(frozen=True)
class DashboardArgs:
    project: str
    stage: str
    account_id: str
    region: str
    partition: str
    settings: DashboardSettings
    functions: FunctionSettings
    force_destroy: bool
    static_dir: Path
    access_log_bucket: pulumi.Input[str]
    noncurrent_version_expiration_days: int
    log_retention_days: int
    lake_key_arn: pulumi.Input[str]
    code: pulumi.Archive
    api_environment: Mapping[str, pulumi.Input[str]]
    api_statements: pulumi.Input[Sequence[dict[str, Any]]]
    api_layers: Sequence[pulumi.Input[str]] = field(default_factory=tuple)


class Dashboard(pulumi.ComponentResource):
    """Private site bucket + site key + API function (URL, IAM auth) + CloudFront with OACs."""

    distribution: aws.cloudfront.Distribution
    api: LambdaFunction

    def __init__(self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ecomlake:index:Dashboard", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        s = args.settings

        # Own key: its policy names this distribution, which the lake key's policy cannot
        # (the lake key must exist before anything else).
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{args.project} {args.stage}: dashboard site objects",
            enable_key_rotation=True,
            deletion_window_in_days=7 if args.force_destroy else 30,
            opts=child,
        )
        site_bucket = naming.bucket_name(args.project, args.stage, "dashboard", args.account_id, args.region)
        self.site = secure_bucket(
            BucketSpec(
                logical_name=f"{name}-site",
                bucket_name=site_bucket,
                kms_key_arn=self.key.arn,
                force_destroy=args.force_destroy,
                lifecycle_rules=[
                    lifecycle_rule("noncurrent-versions", noncurrent_days=args.noncurrent_version_expiration_days)
                ],
                access_log_bucket=args.access_log_bucket,
            ),
            parent=self,
        )
        objects = [
            aws.s3.BucketObjectv2(
                f"{name}-file-{naming.slug(f.key)}",
                bucket=self.site.bucket.id,
                key=f.key,
                source=pulumi.FileAsset(str(f.path)) if f.path else None,
                content=f.content,
                content_type=f.content_type,
                cache_control=f.cache_control,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.site.encryption]),
            )
            for f in site_files(args.static_dir)
        ]

        api_name = naming.resource_name(args.project, args.stage, "api")
        refresh_name = naming.resource_name(args.project, args.stage, "dashboard-refresh")
        env = {**dict(args.api_environment), EnvVar.SERVICE_NAME.value: api_name}
        if s.domain_name:
            env[EnvVar.DASHBOARD_ORIGIN.value] = f"https://{s.domain_name}"
        self.api = LambdaFunction(
            f"{name}-api",
            LambdaFunctionArgs(
                function_name=api_name,
                description="Dashboard API: GET /api/<query> answered from Athena (handlers/api.py)",
                handler="handlers.api.handler",
                code=args.code,
                account_id=args.account_id,
                region=args.region,
                partition=args.partition,
                kms_key_arn=args.lake_key_arn,
                log_retention_days=args.log_retention_days,
                memory_mb=args.functions.memory_mb,
                timeout_seconds=min(args.functions.timeout_seconds, 60),  # CloudFront waits 60 s at most
                log_level=args.functions.log_level,
                environment=env,
                statements=args.api_statements,
                layers=args.api_layers,
            ),
            opts=child,
        )
        # The pipeline's dashboard_refresh step: runs the analytics queries after each
        # successful merge and writes the page's data/ files into the site bucket.
        refresh_env = {
            **dict(args.api_environment),
            EnvVar.SERVICE_NAME.value: refresh_name,
            EnvVar.DASHBOARD_BUCKET.value: self.site.name,
        }
        self.refresh = LambdaFunction(
            f"{name}-refresh",
            LambdaFunctionArgs(
                function_name=refresh_name,
                description=f"Pipeline step dashboard_refresh: query results into the site's data/ ({REFRESH_HANDLER})",
                handler=REFRESH_HANDLER,
                code=args.code,
                account_id=args.account_id,
                region=args.region,
                partition=args.partition,
                kms_key_arn=args.lake_key_arn,
                log_retention_days=args.log_retention_days,
                memory_mb=args.functions.memory_mb,
                timeout_seconds=function_timeout(PipelineFunction.DASHBOARD_REFRESH, args.functions.timeout_seconds),
                log_level=args.functions.log_level,
                environment=refresh_env,
                statements=pulumi.Output.all(args.api_statements, self.site.arn, self.key.arn).apply(
                    lambda v: [
                        *v[0],
                        *iam.s3_read_write("SiteData", v[1], [f"{SITE_DATA_PREFIX}/"]),
                        iam.kms_use("UseSiteKey", v[2]),
                    ]
                ),
                layers=args.api_layers,
            ),
            opts=child,
        )
        self.api_url = aws.lambda_.FunctionUrl(
            f"{name}-api-url",
            function_name=self.api.function.name,
            authorization_type="AWS_IAM",
            opts=child,
        )

        site_oac = aws.cloudfront.OriginAccessControl(
            f"{name}-site-oac",
            name=naming.resource_name(args.project, args.stage, "site-oac"),
            description="CloudFront signs every request to the dashboard bucket",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=child,
        )
        api_oac = aws.cloudfront.OriginAccessControl(
            f"{name}-api-oac",
            name=naming.resource_name(args.project, args.stage, "api-oac"),
            description="CloudFront signs every request to the dashboard API function URL",
            origin_access_control_origin_type="lambda",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=child,
        )
        self.headers = aws.cloudfront.ResponseHeadersPolicy(
            f"{name}-security-headers",
            name=naming.resource_name(args.project, args.stage, "security-headers"),
            comment="HSTS, CSP, nosniff, no framing, strict referrer",
            security_headers_config=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigArgs(
                strict_transport_security=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigStrictTransportSecurityArgs(
                    access_control_max_age_sec=63072000, include_subdomains=True, preload=True, override=True
                ),
                content_security_policy=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigContentSecurityPolicyArgs(
                    content_security_policy=CONTENT_SECURITY_POLICY, override=True
                ),
                content_type_options=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigContentTypeOptionsArgs(
                    override=True
                ),
                frame_options=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigFrameOptionsArgs(
                    frame_option="DENY", override=True
                ),
                referrer_policy=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigReferrerPolicyArgs(
                    referrer_policy="strict-origin-when-cross-origin", override=True
                ),
                xss_protection=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigXssProtectionArgs(
                    protection=True, mode_block=True, override=True
                ),
            ),
            opts=child,
        )
        static_cache = aws.cloudfront.get_cache_policy_output(name=CACHE_STATIC)
        api_cache = aws.cloudfront.get_cache_policy_output(name=CACHE_API)

        if s.domain_name:
            viewer_certificate = aws.cloudfront.DistributionViewerCertificateArgs(
                acm_certificate_arn=s.certificate_arn,
                ssl_support_method="sni-only",
                minimum_protocol_version=MIN_TLS_CUSTOM_DOMAIN,
            )
        else:
            viewer_certificate = aws.cloudfront.DistributionViewerCertificateArgs(cloudfront_default_certificate=True)

        self.distribution = aws.cloudfront.Distribution(
            f"{name}-cdn",
            enabled=True,
            comment=f"{args.project} {args.stage} dashboard",
            aliases=[s.domain_name] if s.domain_name else None,
            default_root_object=DEFAULT_ROOT_OBJECT,
            http_version="http2and3",
            is_ipv6_enabled=True,
            price_class=s.price_class,
            origins=[
                aws.cloudfront.DistributionOriginArgs(
                    origin_id=SITE_ORIGIN,
                    domain_name=self.site.bucket.bucket_regional_domain_name,
                    origin_access_control_id=site_oac.id,
                ),
                aws.cloudfront.DistributionOriginArgs(
                    origin_id=API_ORIGIN,
                    domain_name=self.api_url.function_url.apply(function_url_host),
                    origin_access_control_id=api_oac.id,
                    custom_origin_config=aws.cloudfront.DistributionOriginCustomOriginConfigArgs(
                        http_port=80,
                        https_port=443,
                        origin_protocol_policy="https-only",
                        origin_ssl_protocols=["TLSv1.2"],
                        origin_read_timeout=60,
                    ),
                ),
            ],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                target_origin_id=SITE_ORIGIN,
                viewer_protocol_policy="redirect-to-https",
                allowed_methods=["GET", "HEAD"],
                cached_methods=["GET", "HEAD"],
                compress=True,
                cache_policy_id=static_cache.id,
                response_headers_policy_id=self.headers.id,
            ),
            ordered_cache_behaviors=[
                aws.cloudfront.DistributionOrderedCacheBehaviorArgs(
                    path_pattern=API_PATH,
                    target_origin_id=API_ORIGIN,
                    viewer_protocol_policy="redirect-to-https",
                    allowed_methods=["GET", "HEAD", "OPTIONS"],
                    cached_methods=["GET", "HEAD"],
                    compress=True,
                    cache_policy_id=api_cache.id,
                    response_headers_policy_id=self.headers.id,
                )
            ],
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")
            ),
            viewer_certificate=viewer_certificate,
            opts=pulumi.ResourceOptions(parent=self, depends_on=objects),
        )

        # Grants that name the distribution, so they come after it.
        attach_policy(
            self.site,
            self,
            pulumi.Output.all(self.site.arn, self.distribution.arn).apply(lambda v: [iam.cloudfront_read(v[0], v[1])]),
        )
        aws.kms.KeyPolicy(
            f"{name}-key-policy",
            key_id=self.key.key_id,
            policy=self.distribution.arn.apply(
                lambda arn: json.dumps(iam.site_key_policy(args.partition, args.account_id, arn), sort_keys=True)
            ),
            opts=child,
        )
        # A function URL with AWS_IAM auth needs both permissions for the CloudFront principal.
        aws.lambda_.Permission(
            f"{name}-api-invoke-url",
            action="lambda:InvokeFunctionUrl",
            function=self.api.function.name,
            principal="cloudfront.amazonaws.com",
            source_arn=self.distribution.arn,
            function_url_auth_type="AWS_IAM",
            opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-api-invoke",
            action="lambda:InvokeFunction",
            function=self.api.function.name,
            principal="cloudfront.amazonaws.com",
            source_arn=self.distribution.arn,
            invoked_via_function_url=True,
            opts=child,
        )

        domain = s.domain_name
        self.url: pulumi.Output[str] = (
            pulumi.Output.from_input(f"https://{domain}")
            if domain
            else self.distribution.domain_name.apply(lambda d: f"https://{d}")
        )
        self.site_bucket_name: pulumi.Output[str] = self.site.name
        self.register_outputs(
            {
                "url": self.url,
                "distributionId": self.distribution.id,
                "siteBucket": self.site.name,
                "apiFunction": self.api.function_name,
                "refreshFunction": self.refresh.function_name,
            }
        )
