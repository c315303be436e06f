-- Sends the API accepted, by (sender, client message id): a client's retry returns the same message. Written
-- with the message's outbox event, in the same transaction.
create table chat_sends (
  sender_id bigint not null,
  client_message_id text not null,
  message_id uuid not null,
  conversation_id text not null,
  created_at timestamptz not null default now(),
  primary key (sender_id, client_message_id)
);
