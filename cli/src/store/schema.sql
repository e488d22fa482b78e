-- The store's tables (see store/mod.rs): what DynamoDB and the SQS intake queue keep on
-- AWS. Records are their JSON in `record`, as on DynamoDB (the types in `shared` are the
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
