-- Accounts deleted in the user center: their likes were removed, and no like of theirs is written again (a
-- like authenticated just before the deletion, committing after the clean-up, is refused by the insert).
create table forgotten_users (
  user_id bigint primary key,
  forgotten_at timestamptz not null default now()
);
