-- A user's likes, for removing them when the account is deleted (user.deleted).
create index likes_by_user on likes (user_id);
