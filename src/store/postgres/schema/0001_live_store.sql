-- khabar's cluster store, schema version 1: messages, their indexes, the event log, subscribers'
-- cursors, parked receipts, and the nodes with their operator leases.

-- Every message, live or finished. `record` is the message as the store's codec encodes it
-- (its text included until erased); the columns beside it are what is searched or ordered on.
-- Vacuumed once 1 % of it is dead rows, not 20 %: every claim leaves a dead entry at the head
-- of the queue's index, which the next claims step over until a vacuum removes it.
CREATE TABLE messages (
    id          bigint   PRIMARY KEY,
    reference   text     UNIQUE,
    kind        text     NOT NULL,
    state       text     NOT NULL,
    lane        smallint NOT NULL,
    next_try    bigint   NOT NULL,
    deadline    bigint,
    finished_at bigint,
    claimed_by  text,                -- the node that claimed it, while it is submitting
    erased      boolean  NOT NULL DEFAULT false,  -- its texts erased (text retention)
    record      bytea    NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0.01);
-- The last message id and event seq handed out. A transaction that accepts messages locks the
-- first row until it commits (so ids rise in commit order, and a reference is looked up after
-- every earlier accept is visible); one that writes events locks the second.
CREATE TABLE sequences (
    name text   PRIMARY KEY,
    last bigint NOT NULL
);
INSERT INTO sequences (name, last) VALUES ('message', 0), ('event', 0);
-- the queue: due messages of a lane, oldest first (only queued rows are in it)
CREATE INDEX messages_queued ON messages (lane, next_try, id) WHERE state = 'queued';
-- what each node has in flight: requeued at its restart, and by the others once it is silent
-- (they look for it at every heartbeat)
CREATE INDEX messages_in_flight ON messages (claimed_by) WHERE state = 'submitting';
-- deadlines still to fire (a finished message has none: its `deadline` is NULL)
CREATE INDEX messages_deadline ON messages (deadline) WHERE deadline IS NOT NULL;
-- retention: finished messages by age, and those whose texts are still to erase
CREATE INDEX messages_finished ON messages (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX messages_to_erase ON messages (finished_at) WHERE finished_at IS NOT NULL AND NOT erased;

-- How many messages are in each state, as changes from each node: a node adds its own
-- changes to its own rows (no row shared by two nodes' transactions), a reader sums them.
CREATE TABLE counts (
    node   text     NOT NULL,
    writer smallint NOT NULL,   -- which of the node's writing connections (see Committer)
    kind   text     NOT NULL,
    state  text     NOT NULL,
    n      bigint   NOT NULL,
    PRIMARY KEY (node, writer, kind, state)
);

-- The operator's id of each part submitted, to match its receipt whichever node receives it.
CREATE TABLE operator_ids (
    operator    text     NOT NULL,
    operator_id text     NOT NULL,
    -- forgotten with its message by retention (a foreign key's check on every insert cost
    -- more than the insert itself)
    message_id  bigint   NOT NULL,
    part        smallint NOT NULL,
    PRIMARY KEY (operator, operator_id)
);
CREATE INDEX operator_ids_message ON operator_ids (message_id);

-- Receipts that came before their submit_sm_resp was recorded, kept for matching.
CREATE TABLE parked_receipts (
    operator    text   NOT NULL,
    operator_id text   NOT NULL,
    parked_at   bigint NOT NULL,
    receipt     bytea  NOT NULL,
    PRIMARY KEY (operator, operator_id)
);

-- The event log. `seq` comes from `sequences` under its row's lock, in the transaction that
-- writes the events: a subscriber that has read up to N never finds a later commit below N.
CREATE TABLE events (
    seq   bigint PRIMARY KEY,
    at    bigint NOT NULL,
    event bytea  NOT NULL
);

-- How far each subscriber has acknowledged the log.
CREATE TABLE cursors (
    subscriber text   PRIMARY KEY,
    seq        bigint NOT NULL
);

-- The cluster's nodes, as each last reported itself.
CREATE TABLE nodes (
    name      text        PRIMARY KEY,
    started   timestamptz NOT NULL,
    heartbeat timestamptz NOT NULL
);

-- Which node holds each operator's binds, until when; `epoch` grows with every new holder, so a
-- node that lost its lease can tell its late writes apart.
CREATE TABLE leases (
    operator text        PRIMARY KEY,
    node     text        NOT NULL,
    epoch    bigint      NOT NULL,
    expires  timestamptz NOT NULL
);

-- What every node must have alike, each value set by the first node that started (the OTP key
-- file's fingerprint: any node may send an OTP another sealed).
CREATE TABLE agreed (
    name  text PRIMARY KEY,
    value text NOT NULL
);
