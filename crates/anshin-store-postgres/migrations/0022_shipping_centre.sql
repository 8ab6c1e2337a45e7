-- The shipping centre's people and equipment (issue 15; C24, C25).
-- Mirrors the other backend's migration of the same name (compared by
-- anshin-store-postgres/tests/postgres/schema_parity.rs).
--
-- shipping_terminals: the equipment registry kept by shipping managers.
-- label: the name written on the device (unique); serial: its serial
-- number (unique). status: active or retired (a retired terminal is kept
-- for the shift log, never deleted). registered_by: the manager's staff
-- id.
CREATE TABLE shipping_terminals (
    id            UUID    NOT NULL PRIMARY KEY, -- UUIDv7
    label         TEXT    NOT NULL UNIQUE,
    serial        TEXT    NOT NULL UNIQUE,
    status        TEXT    NOT NULL CHECK (status IN ('active', 'retired')),
    registered_at BIGINT  NOT NULL,
    registered_by UUID    NOT NULL REFERENCES staff_accounts (id),
    retired_at    BIGINT
);

-- shipping_shifts: a worker's shift on a terminal, from check-in
-- (started_at) to check-out (ended_at, NULL while open; the terminal is
-- returned then). session_id: the console session the shift works from
-- (only that sign-in counts as "on the checked-out terminal"; no foreign
-- key, since sessions are purged and the log stays). end_reason:
-- checked_out, or staff_disabled when the account was disabled mid-shift.
-- One open shift per worker and one per terminal, whatever instance
-- writes: the two partial unique indexes.
CREATE TABLE shipping_shifts (
    id          UUID    NOT NULL PRIMARY KEY, -- UUIDv7
    staff_id    UUID    NOT NULL REFERENCES staff_accounts (id),
    terminal_id UUID    NOT NULL REFERENCES shipping_terminals (id),
    session_id  UUID    NOT NULL,
    started_at  BIGINT  NOT NULL,
    ended_at    BIGINT,
    end_reason  TEXT
);
CREATE UNIQUE INDEX shipping_shifts_one_open_per_staff
    ON shipping_shifts (staff_id) WHERE ended_at IS NULL;
CREATE UNIQUE INDEX shipping_shifts_one_open_per_terminal
    ON shipping_shifts (terminal_id) WHERE ended_at IS NULL;
CREATE INDEX shipping_shifts_started_at ON shipping_shifts (started_at);

-- waybill_void_requests: a worker's request to void a waybill (C25) and
-- a manager's decision. shipment_id: the waybill's shipment (no foreign
-- key here: shipments arrive with their own migration). reason: the
-- worker's words (kept here, never in the audit log's details).
-- status: pending, approved or rejected; decided_by must not be the
-- requester (the CHECK is the last line behind the policy and the core).
-- One pending request per shipment.
CREATE TABLE waybill_void_requests (
    id              UUID    NOT NULL PRIMARY KEY, -- UUIDv7
    shipment_id     UUID    NOT NULL,
    requested_by    UUID    NOT NULL REFERENCES staff_accounts (id),
    requested_shift UUID    NOT NULL REFERENCES shipping_shifts (id),
    reason          TEXT    NOT NULL,
    requested_at    BIGINT  NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by      UUID    REFERENCES staff_accounts (id),
    decided_shift   UUID    REFERENCES shipping_shifts (id),
    decided_at      BIGINT,
    CHECK (decided_by IS NULL OR decided_by <> requested_by),
    CHECK ((status = 'pending') = (decided_by IS NULL))
);
CREATE UNIQUE INDEX waybill_void_requests_one_pending
    ON waybill_void_requests (shipment_id) WHERE status = 'pending';
CREATE INDEX waybill_void_requests_status ON waybill_void_requests (status, requested_at);
