-- Likes: the source of truth of who likes what.
create table likes (
  target_type text not null check (target_type in ('video', 'comment')),
  target_id bigint not null,
  user_id bigint not null,
  created_at timestamptz not null default now(),
  primary key (target_type, target_id, user_id)
);

-- Like counts: a projection kept by the like-persistence-group consumer from LikeEvents.
create table like_counts (
  target_type text not null,
  target_id bigint not null,
  count bigint not null default 0,
  updated_at timestamptz not null default now(),
  primary key (target_type, target_id)
);
