-- Incident response (issue 14; C28). An incident record with its
-- timeline, and the members locked during one. Mirrors the PostgreSQL
-- migration of the same name (compared by
-- anshin-store-postgres/tests/postgres/schema_parity.rs).
--
-- incidents: title is the operator's short name for it (no personal
-- data by the runbook, docs/incident-response.md). status: open or
-- closed; lessons: the lessons-learned text written at close.
-- notify_*: the progress of the member notification (`anshin incident
-- notify`), so that a run that was stopped continues where it left off:
-- which template to which audience ('all' or 'members'), the last member
-- id mailed (members are mailed in id order), how many mails were queued,
-- how many members the audience held at the start, and when it finished.
CREATE TABLE incidents (
    id                 BLOB    NOT NULL PRIMARY KEY, -- UUIDv7
    title              TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    opened_at          INTEGER NOT NULL,
    opened_by          TEXT    NOT NULL,
    closed_at          INTEGER,
    lessons            TEXT,
    notify_template    TEXT,
    notify_audience    TEXT,
    notify_cursor      BLOB,
    notify_sent        INTEGER NOT NULL DEFAULT 0,
    notify_total       INTEGER NOT NULL DEFAULT 0,
    notify_finished_at INTEGER
) STRICT;
CREATE INDEX incidents_status ON incidents (status);

-- One line of an incident's timeline: when, who (`system` for the
-- command line, `staff:<id>` for the console), what (a code such as
-- `sessions_ended`) and a short text of pseudonymous facts.
CREATE TABLE incident_timeline (
    id          BLOB    NOT NULL PRIMARY KEY, -- UUIDv7 (orders the timeline)
    incident_id BLOB    NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    detail      TEXT    NOT NULL
) STRICT;
CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, at);

-- Members locked during an incident: no login succeeds and no session of
-- theirs is served while the row exists.
CREATE TABLE member_locks (
    member_id   BLOB    NOT NULL PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    incident_id BLOB    NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    locked_at   INTEGER NOT NULL
) STRICT;
