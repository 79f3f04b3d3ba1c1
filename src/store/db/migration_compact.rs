//! Migration 23: a smaller store, again. The 15-minute rows name a (profile, model) pair of
//! `usage_names` by its id instead of repeating the text (`usage_buckets`; the view
//! `usage_rollup` shows them as before), and an event carries its change number only
//! while a push to a shared database is configured (`store::sync::track_changes`
//! numbers the others when it is): 0 takes no bytes (the index by change number goes
//! with the old table; `track_changes` makes it again). The labels lose their unique
//! index over every name (found through the index by conversation instead, see
//! `store::usage::rollup`): it repeated all their text. An event stores its time as
//! the seconds after its label's first time (`dt`; two bytes for a conversation's
//! events, four for a time); the view `usage_events` adds them up; each label keeps
//! the earliest and latest time of its events (`min_ts`, `max_ts`), so what reads events
//! of a period or the oldest one looks up the labels of those alone. The sums kept per
//! conversation name their model by its id in `usage_models`.
//! In a file of its own: the migrations' list would pass 500 lines.

/// The SQL of migration 23 (see the module's documentation).
pub(super) const COMPACT_USAGE: &str = "CREATE TABLE usage_names (
        id      INTEGER PRIMARY KEY,
        profile TEXT NOT NULL,
        model   TEXT NOT NULL,
        UNIQUE (profile, model)
     ) STRICT;
     INSERT INTO usage_names (profile, model)
        SELECT DISTINCT profile, model FROM usage_rollup ORDER BY profile, model;
     CREATE TABLE usage_buckets (
        bucket        INTEGER NOT NULL,
        names         INTEGER NOT NULL,
        input_tokens  INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_creation_input_tokens INTEGER NOT NULL,
        cache_read_input_tokens     INTEGER NOT NULL,
        events        INTEGER NOT NULL,
        last_ts       INTEGER NOT NULL,
        cache_creation_1h_tokens    INTEGER NOT NULL DEFAULT 0,
        reasoning_output_tokens     INTEGER NOT NULL DEFAULT 0,
        lc_input_tokens             INTEGER NOT NULL DEFAULT 0,
        lc_output_tokens            INTEGER NOT NULL DEFAULT 0,
        lc_cache_creation_tokens    INTEGER NOT NULL DEFAULT 0,
        lc_cache_read_tokens        INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (bucket, names)
     ) WITHOUT ROWID, STRICT;
     INSERT INTO usage_buckets
        SELECT r.bucket, n.id, r.input_tokens, r.output_tokens, r.cache_creation_input_tokens,
               r.cache_read_input_tokens, r.events, r.last_ts, r.cache_creation_1h_tokens,
               r.reasoning_output_tokens, r.lc_input_tokens, r.lc_output_tokens,
               r.lc_cache_creation_tokens, r.lc_cache_read_tokens
        FROM usage_rollup r JOIN usage_names n ON n.profile = r.profile AND n.model = r.model;
     DROP TABLE usage_rollup;
     CREATE VIEW usage_rollup AS
        SELECT b.bucket, n.profile, n.model, b.input_tokens, b.output_tokens,
               b.cache_creation_input_tokens, b.cache_read_input_tokens, b.events, b.last_ts,
               b.cache_creation_1h_tokens, b.reasoning_output_tokens, b.lc_input_tokens,
               b.lc_output_tokens, b.lc_cache_creation_tokens, b.lc_cache_read_tokens
        FROM usage_buckets b JOIN usage_names n ON n.id = b.names;
     CREATE TABLE usage_labels_new (
        id         INTEGER PRIMARY KEY,
        profile    TEXT NOT NULL,
        agent      TEXT NOT NULL,
        provider   TEXT NOT NULL,
        model      TEXT NOT NULL,
        source     TEXT NOT NULL,
        session_id TEXT NOT NULL,
        key_label  TEXT NOT NULL DEFAULT '',
        key_hint   TEXT NOT NULL DEFAULT '',
        input_tokens  INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_creation_input_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_input_tokens     INTEGER NOT NULL DEFAULT 0,
        cache_creation_1h_tokens    INTEGER NOT NULL DEFAULT 0,
        reasoning_output_tokens     INTEGER NOT NULL DEFAULT 0,
        events        INTEGER NOT NULL DEFAULT 0,
        first_ts      INTEGER NOT NULL DEFAULT 0,
        min_ts        INTEGER NOT NULL DEFAULT 0,
        max_ts        INTEGER NOT NULL DEFAULT 0
     ) STRICT;
     INSERT INTO usage_labels_new
        SELECT id, profile, agent, provider, model, source, session_id, key_label, key_hint,
               input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens,
               cache_creation_1h_tokens, reasoning_output_tokens, events, COALESCE(t.first, 0),
               COALESCE(t.first, 0), COALESCE(t.last, 0)
        FROM usage_labels
        LEFT JOIN (SELECT label, MIN(ts) AS first, MAX(ts) AS last FROM usage_raw GROUP BY label) AS t
               ON t.label = usage_labels.id;
     CREATE TABLE usage_raw_new (
        key   INTEGER PRIMARY KEY,
        dt    INTEGER NOT NULL,
        label INTEGER NOT NULL,
        input_tokens  INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_creation_input_tokens INTEGER NOT NULL,
        cache_read_input_tokens     INTEGER NOT NULL,
        cache_creation_1h_tokens    INTEGER NOT NULL,
        reasoning_output_tokens     INTEGER NOT NULL,
        rev   INTEGER NOT NULL DEFAULT 0
     ) STRICT;
     INSERT INTO usage_raw_new
        SELECT r.key, r.ts - COALESCE(l.first_ts, 0), r.label, r.input_tokens, r.output_tokens,
               r.cache_creation_input_tokens, r.cache_read_input_tokens, r.cache_creation_1h_tokens,
               r.reasoning_output_tokens,
               CASE WHEN EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'usage_raw_rev')
                    THEN r.rev ELSE 0 END
        FROM usage_raw r LEFT JOIN usage_labels_new l ON l.id = r.label
        ORDER BY r.key;
     DROP VIEW usage_events;
     DROP TABLE usage_labels;
     DROP TABLE usage_raw;
     ALTER TABLE usage_labels_new RENAME TO usage_labels;
     ALTER TABLE usage_raw_new RENAME TO usage_raw;
     CREATE INDEX usage_labels_session ON usage_labels(session_id);
     CREATE VIEW usage_events AS
        SELECT r.key AS id, l.first_ts + r.dt AS ts, l.profile, NULLIF(l.agent, '') AS agent,
               NULLIF(l.provider, '') AS provider, l.model, r.input_tokens, r.output_tokens,
               r.cache_creation_input_tokens, r.cache_read_input_tokens, l.source,
               NULLIF(l.session_id, '') AS session_id, r.cache_creation_1h_tokens,
               r.reasoning_output_tokens, r.rev, NULLIF(l.key_label, '') AS key_label,
               NULLIF(l.key_hint, '') AS key_hint, r.label
        FROM usage_raw r JOIN usage_labels l ON l.id = r.label;
     CREATE TABLE usage_models (
        id    INTEGER PRIMARY KEY,
        model TEXT NOT NULL UNIQUE
     ) STRICT;
     INSERT INTO usage_models (model) SELECT DISTINCT model FROM usage_conversations ORDER BY model;
     CREATE TABLE usage_conversations_new (
        session_id    TEXT NOT NULL,
        model_id      INTEGER NOT NULL,
        input_tokens  INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_creation_input_tokens INTEGER NOT NULL,
        cache_read_input_tokens     INTEGER NOT NULL,
        cache_creation_1h_tokens    INTEGER NOT NULL,
        reasoning_output_tokens     INTEGER NOT NULL,
        events        INTEGER NOT NULL,
        PRIMARY KEY (session_id, model_id)
     ) WITHOUT ROWID, STRICT;
     INSERT INTO usage_conversations_new
        SELECT c.session_id, m.id, c.input_tokens, c.output_tokens, c.cache_creation_input_tokens,
               c.cache_read_input_tokens, c.cache_creation_1h_tokens, c.reasoning_output_tokens,
               c.events
        FROM usage_conversations c JOIN usage_models m ON m.model = c.model;
     DROP TABLE usage_conversations;
     ALTER TABLE usage_conversations_new RENAME TO usage_conversations;";
