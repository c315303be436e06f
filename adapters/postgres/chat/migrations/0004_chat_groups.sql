-- Group conversations and their members: the source of truth of who may post, read and be pushed to. Written
-- with the group's events in the same transaction.
create table chat_groups (
  conversation_id text primary key,
  name text not null,
  owner_id bigint not null,
  created_at timestamptz not null default now()
);
create table chat_group_members (
  conversation_id text not null references chat_groups (conversation_id),
  user_id bigint not null,
  added_at timestamptz not null default now(),
  primary key (conversation_id, user_id)
);
