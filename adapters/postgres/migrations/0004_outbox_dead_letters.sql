-- Outbox dead letters: rows the broker refused for what they are (too large, topic missing), moved here by the
-- relay in its claim so the rest of their key bucket flows. Kept whole, so an operator can fix and re-insert.
create table outbox_dead_letters (
  id bigint primary key,             -- the row's id in outbox: its place in its key's order
  bucket smallint not null,
  topic text not null,
  key text not null,
  event_id uuid not null,
  event_type text not null,
  value text not null,
  headers jsonb not null default '{}',
  created_at timestamptz not null,   -- when the business transaction wrote it
  reason text not null,              -- the broker's word: MESSAGE_TOO_LARGE, UNKNOWN_TOPIC_OR_PARTITION...
  error text not null,               -- the publisher's message, cut to 2 000 characters
  parked_at timestamptz not null default now()
);
create index outbox_dead_letters_event_id on outbox_dead_letters (event_id);
