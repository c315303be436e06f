-- The audit log of chat (seed 001's audit consumer of chat events): who wrote when to which conversation, and
-- how much; never the content. Append-only; the message id makes a redelivery a no-op.
create table chat_audit (
  message_id uuid primary key,
  conversation_id text not null,
  sender_id bigint not null,
  recipients integer not null,
  content_bytes integer not null,
  sent_at timestamptz not null,
  recorded_at timestamptz not null default now()
);
create index chat_audit_sender on chat_audit (sender_id, sent_at desc);
create index chat_audit_conversation on chat_audit (conversation_id, sent_at desc);
