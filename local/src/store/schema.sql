-- The store's tables (see store/mod.rs): what DynamoDB, the SQS intake queue and (at the
-- end) Step Functions keep on AWS. Records are their JSON in `record`, as on DynamoDB (the types in `shared` are the
-- schema, a new optional field needs no migration); beside it only the columns a query,
-- an index or a condition needs. Times are Unix milliseconds.

-- One row per job. `repo` is lower-cased (GitHub treats `Octo-Org/Repo` and
-- `octo-org/repo` as one repository); `thread` is the issue or pull request number, NULL
-- for push, check-run and CLI jobs.
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    repo TEXT NOT NULL,
    thread INTEGER,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    record TEXT NOT NULL
) WITHOUT ROWID;
-- jobs_for_thread, newest first.
CREATE INDEX IF NOT EXISTS jobs_by_thread ON jobs (repo, thread, created_at_ms)
    WHERE thread IS NOT NULL;
-- recent_jobs, with and without a status.
CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs (created_at_ms);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created_at_ms);

-- The task token of each wait of a job, apart from the job record: the record is logged
-- and shown, a token is a bearer credential. A new wait of the same kind replaces it.
CREATE TABLE IF NOT EXISTS task_tokens (
    job TEXT NOT NULL,
    wait TEXT NOT NULL,
    token TEXT NOT NULL,
    PRIMARY KEY (job, wait)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS installations (
    id INTEGER PRIMARY KEY,
    record TEXT NOT NULL
);

-- An installation's repositories: `repo_key` lower-cased (one row per repository however
-- it is spelled), `repo` as GitHub spells it. No foreign key: repositories may arrive
-- before the installation's own event.
CREATE TABLE IF NOT EXISTS installation_repositories (
    installation INTEGER NOT NULL,
    repo_key TEXT NOT NULL,
    repo TEXT NOT NULL,
    PRIMARY KEY (installation, repo_key)
) WITHOUT ROWID;

-- An installation's policies, one per name.
CREATE TABLE IF NOT EXISTS policies (
    installation INTEGER NOT NULL,
    name TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (installation, name)
) WITHOUT ROWID;

-- Append-only. The unique key covers the whole entry, so the same entry appended twice
-- (a redelivered batch) is stored once and two different entries never collide.
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY,
    installation INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    delivery TEXT NOT NULL,
    job TEXT,
    record TEXT NOT NULL,
    UNIQUE (installation, at_ms, delivery, record)
);
-- audit_for_job, oldest first.
CREATE INDEX IF NOT EXISTS audit_by_job ON audit_log (job, at_ms) WHERE job IS NOT NULL;

-- One counter per key and fixed window; the window's length is part of the key, so an
-- hourly and a per-minute limit on the same key never share a counter. Counters are
-- deleted a while after their window ends (`expires_at_ms`).
CREATE TABLE IF NOT EXISTS rate_counters (
    key TEXT NOT NULL,
    window_ms INTEGER NOT NULL,
    window_start_ms INTEGER NOT NULL,
    count INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (key, window_ms, window_start_ms)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rate_counters_by_expiry ON rate_counters (expires_at_ms);

-- The tokens an installation's jobs used, per UTC day (`period` 'day', `window_label`
-- '2026-12-03') and per UTC month ('month', '2026-12'); what installation policies'
-- `token_budget` is checked against. Rows are kept (a handful per installation a month).
CREATE TABLE IF NOT EXISTS token_counters (
    installation INTEGER NOT NULL,
    period TEXT NOT NULL,
    window_label TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    PRIMARY KEY (installation, period, window_label)
) WITHOUT ROWID;
-- The jobs whose tokens were added to `token_counters`, one row each: a job's tokens are
-- counted once, in the same transaction as the counters, however often its end is
-- handled. Deleted a while after the month of the job's end (`expires_at_ms`).
CREATE TABLE IF NOT EXISTS token_charges (
    job TEXT PRIMARY KEY,
    installation INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS token_charges_by_expiry ON token_charges (expires_at_ms);

-- The runner slots: one row for the whole deployment, written with a version check.
CREATE TABLE IF NOT EXISTS runner_slots (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    record TEXT NOT NULL
);

-- Accepted webhook deliveries on their way to the policy stage (the SQS FIFO intake
-- queue on AWS). `seq` is the arrival order and never reused; `grp` is the ordering key
-- (Envelope::ordering_key): a group's deliveries are handed out one at a time, oldest
-- first. `delivery` is unique: a redelivery leaves one row.
CREATE TABLE IF NOT EXISTS inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery TEXT NOT NULL UNIQUE,
    grp TEXT NOT NULL,
    envelope TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
    -- Failed attempts so far.
    attempts INTEGER NOT NULL DEFAULT 0,
    -- Not handed out before this time (a retry's backoff).
    due_at_ms INTEGER NOT NULL,
    last_error TEXT
);
-- Partial indexes: an enqueue writes only to `inbox_pending`; the other two are filled as
-- deliveries finish, off the webhook's path.
-- The head of each group (next_deliveries) and the pending count.
CREATE INDEX IF NOT EXISTS inbox_pending ON inbox (grp, seq) WHERE state = 'pending';
-- purge_done_deliveries.
CREATE INDEX IF NOT EXISTS inbox_done ON inbox (received_at_ms) WHERE state = 'done';
-- dead_deliveries and the dead count.
CREATE INDEX IF NOT EXISTS inbox_dead ON inbox (seq) WHERE state = 'dead';

-- The local engine's executions and waits (see engine/mod.rs, store/executions.rs,
-- store/waits.rs, store/runners.rs): what Step Functions keeps on AWS.

-- One execution per job, named after it, as on AWS.
CREATE TABLE IF NOT EXISTS executions (
    job TEXT PRIMARY KEY,
    -- The WorkflowInput, as JSON.
    input TEXT NOT NULL,
    -- Where the execution is: a state of the job workflow (see store::Step).
    step TEXT NOT NULL,
    -- The step's data as JSON: the run's output, or the error being reported.
    step_data TEXT,
    -- Retries of the run so far ($$.State.RetryCount).
    retries INTEGER NOT NULL DEFAULT 0,
    -- When the step is due to be worked on (a backoff's end, a report's next try).
    due_at_ms INTEGER NOT NULL,
    -- Set by `stop`: the execution ends as aborted at its next step.
    stop_cause TEXT,
    started_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_due ON executions (step, due_at_ms);
-- Executions written before the steps took the workflow's state names (store::Step).
UPDATE executions SET step = CASE step
    WHEN 'start' THEN 'NeedsApproval'
    WHEN 'await_approval' THEN 'AwaitApproval'
    WHEN 'report_running' THEN 'ReportRunning'
    WHEN 'queued' THEN 'Dispatch:queued'
    WHEN 'backoff' THEN 'Dispatch:queued'
    WHEN 'dispatch' THEN 'Dispatch'
    WHEN 'report_succeeded' THEN 'ReportSucceeded'
    WHEN 'report_ended' THEN 'ReportEnded'
    WHEN 'dead_letter' THEN 'DeadLetter'
    ELSE 'Done' END
WHERE step IN ('start', 'await_approval', 'report_running', 'queued', 'backoff', 'dispatch',
               'report_succeeded', 'report_ended', 'dead_letter', 'done');

-- The waits a task token answers: the approval, and each dispatched run.
CREATE TABLE IF NOT EXISTS waits (
    token TEXT PRIMARY KEY,
    job TEXT NOT NULL,
    kind TEXT NOT NULL,
    opened_at_ms INTEGER NOT NULL,
    -- The wait's TimeoutSeconds, as a deadline.
    timeout_at_ms INTEGER NOT NULL,
    -- The last sign of life (opening, or a heartbeat), for HeartbeatSeconds.
    heartbeat_at_ms INTEGER NOT NULL,
    -- Whether HeartbeatSeconds applies.
    heartbeats INTEGER NOT NULL,
    -- NULL while open; the answer as JSON once answered.
    answer TEXT,
    -- 1 once the engine took the answer or gave up waiting: the token is spent.
    closed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS waits_job ON waits (job, closed);

-- Runner processes, so a restarted server finds (and stops) those of its predecessor.
CREATE TABLE IF NOT EXISTS runners (
    pid INTEGER NOT NULL,
    -- The process's start time (clock ticks since boot), so a reused pid is not mistaken.
    started_ticks INTEGER NOT NULL,
    job TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    log TEXT NOT NULL,
    -- NULL while it runs; its exit status (or -signal) once reaped.
    exit_code INTEGER,
    PRIMARY KEY (pid, started_ticks)
);
CREATE INDEX IF NOT EXISTS runners_job ON runners (job);

-- Jobs set aside by the catch-all, with their error: the dead-letter queue of AWS.
CREATE TABLE IF NOT EXISTS dead_letters (
    job TEXT PRIMARY KEY,
    error TEXT NOT NULL,
    cause TEXT,
    at_ms INTEGER NOT NULL
);

-- The schedule registry: the repositories whose config on the default branch has a
-- schedule, the entry as JSON, and when it fires next (NULL: never again), which a tick
-- looks up by index instead of reading every schedule.
CREATE TABLE IF NOT EXISTS schedules (
    repo_id INTEGER PRIMARY KEY,
    installation INTEGER NOT NULL,
    next_fire_ms INTEGER,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS schedules_due ON schedules (next_fire_ms)
    WHERE next_fire_ms IS NOT NULL;
CREATE INDEX IF NOT EXISTS schedules_installation ON schedules (installation);

-- The issue each repository's scheduled read-only runs report on, once opened; kept when
-- the schedule goes, so a schedule written again reports on the same issue.
CREATE TABLE IF NOT EXISTS tracking_issues (
    repo_id INTEGER PRIMARY KEY,
    number INTEGER NOT NULL
);
