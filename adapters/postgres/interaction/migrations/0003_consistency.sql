-- The like cache's consistency check (seed 004): each round, and each inconsistency it found and what it did.
-- The closed sets (trigger, kind, action) are those of domain/interaction/consistency.ts and
-- application/interaction/consistency_ports.ts.
create table like_consistency_rounds (
  id bigint generated always as identity primary key,
  trigger text not null check (trigger in ('scheduled', 'manual')),
  started_at timestamptz not null,
  -- null while the round runs, and for good when an error aborted it
  finished_at timestamptz,
  -- targets compared, inconsistencies found, inconsistencies repaired
  items integer not null default 0,
  found integer not null default 0,
  fixed integer not null default 0
);
create index like_consistency_rounds_started_at on like_consistency_rounds (started_at);

create table like_consistency_findings (
  id bigint generated always as identity primary key,
  round_id bigint not null references like_consistency_rounds (id) on delete cascade,
  target_type text not null check (target_type in ('video', 'comment')),
  target_id bigint not null,
  kind text not null check (kind in ('count_mismatch', 'state_missing', 'state_extra')),
  -- the user of a state finding, as the cache names it (a corrupted cache may hold a field that is no id)
  user_id text,
  -- a count (count_mismatch) or a like state (state_*), as JSON
  cache_value jsonb not null,
  database_value jsonb not null,
  action text not null check (action in ('fixed', 'logged', 'skipped_changed')),
  found_at timestamptz not null
);
create index like_consistency_findings_found_at on like_consistency_findings (found_at);
create index like_consistency_findings_round_id on like_consistency_findings (round_id);
