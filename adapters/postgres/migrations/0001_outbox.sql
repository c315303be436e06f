-- Outbox: one row per event, written in the business transaction, deleted once the broker acknowledged it.
create table outbox (
  id bigint generated always as identity primary key,
  bucket smallint not null,          -- hash of key: relays lease buckets, so one key has one publisher at a time
  topic text not null,
  key text not null,
  event_id uuid not null,
  event_type text not null,
  value text not null,               -- the envelope as JSON, sent as is
  headers jsonb not null default '{}',
  created_at timestamptz not null default now()
);
create index outbox_bucket_id on outbox (bucket, id);

-- Inbox: the events each consumer has applied, written in the transaction of the effect.
create table inbox (
  consumer text not null,
  event_id uuid not null,
  processed_at timestamptz not null default now(),
  primary key (consumer, event_id)
);
create index inbox_processed_at on inbox (processed_at);
