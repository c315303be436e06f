-- Chat (seed 003): messages, keyed by the id chosen at send time so a redelivered message.sent is a no-op,
-- and each user's read marker per conversation. Lists and unread counts are read from these two tables.
create table chat_messages (
  id uuid primary key,
  conversation_id text not null,
  sender_id bigint not null,
  -- Everyone who may read the message, sender included: a user's conversation list is read from this.
  participants bigint[] not null,
  content text not null,
  sent_at timestamptz not null
);
-- History: a conversation newest first, paged by (sent_at, id).
create index chat_messages_history on chat_messages (conversation_id, sent_at desc, id desc);
-- A user's conversations: the messages whose participants contain the user.
create index chat_messages_participants on chat_messages using gin (participants);

-- The newest message a user has read in a conversation, as (sent_at, message_id); it only moves forward.
create table chat_read_markers (
  user_id bigint not null,
  conversation_id text not null,
  sent_at timestamptz not null,
  message_id uuid not null,
  primary key (user_id, conversation_id)
);
