-- Settings every process must agree on, recorded once by the first migrate (e.g. the outbox bucket count:
-- rows written with one count are never claimed correctly by a relay running another).
create table platform_settings (
  name text primary key,
  value text not null,
  recorded_at timestamptz not null default now()
);
