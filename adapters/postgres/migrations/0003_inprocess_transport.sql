-- The in-process event transport (embedded mode): a partitioned log with consumer group positions, in the
-- same database, so a restart resumes where it stopped. Unused when Kafka is the transport.
create table transport_partitions (
  topic text not null,
  partition int not null,
  next_offset bigint not null default 0,
  primary key (topic, partition)
);

create table transport_messages (
  topic text not null,
  partition int not null,
  "offset" bigint not null,
  key text not null,
  value text not null,
  headers jsonb not null default '{}',
  created_at timestamptz not null default now(),
  primary key (topic, partition, "offset")
);

create table transport_positions (
  group_id text not null,
  topic text not null,
  partition int not null,
  next_offset bigint not null,
  primary key (group_id, topic, partition)
);
