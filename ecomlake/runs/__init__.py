"""A run's life, shared by the local runner and the cloud's Lambda steps: plan, audit, publish.

Write -> audit -> publish, or stop:

* ``plan``    -- the snapshot the run starts from, the dates it computes (asked for, plus any
                 published partition found missing), and the bytes a small-date run would
                 stage, written to ``_runs/<run_id>/plan.json``;
* the jobs    -- ``ecomlake.etl``: new versions, invisible to readers, recorded in the journal;
                 on AWS either as Glue jobs or, for a small run, all of them (and the audit)
                 in one Lambda on DuckDB (``small_date``);
* ``audit``   -- every data-quality check on the run's view; a critical failure stops the run;
* ``publish`` -- one atomic snapshot write, then reports into place and garbage collected.
"""
