-- The local engine's executions and waits: what Step Functions keeps on AWS.

-- One execution per job, named after it, as on AWS.
CREATE TABLE IF NOT EXISTS executions (
    job TEXT PRIMARY KEY,
    -- The WorkflowInput, as JSON.
    input TEXT NOT NULL,
    -- Where the execution is: see engine::Step.
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
