/*
 * Where the dashboard reads its data.
 *
 * apiBase: null  -> the JSON files `ecomlake dashboard` wrote next to this page (data/).
 * apiBase: "/api" -> the API handler (handlers/api.py) behind the same CloudFront
 *                    distribution; the deployment replaces this file with that setting.
 */
window.ECOMLAKE_CONFIG = window.ECOMLAKE_CONFIG || { apiBase: null };
