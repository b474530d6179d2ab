//! Queries for friendships, blocks and parties.

use sqlx::Row;

use super::{Store, StoreError};

/// A friend request or friendship.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendshipRow {
    /// Id.
    pub id: String,
    /// Who asked.
    pub requester_id: String,
    /// Who was asked.
    pub addressee_id: String,
    /// pending or accepted.
    pub status: String,
    /// Asked, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
}

/// A friendship or request with the other person's handle and display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendshipView {
    /// The row.
    pub row: FriendshipRow,
    /// The other person's id.
    pub other_id: String,
    /// Their handle.
    pub other_handle: String,
    /// Their display name.
    pub other_display_name: String,
}

/// A party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyRow {
    /// Id.
    pub id: String,
    /// Leader.
    pub leader_id: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Disbanded, Unix ms.
    pub disbanded_at: Option<i64>,
}

/// A party member or invitee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyMemberRow {
    /// Account id.
    pub account_id: String,
    /// Handle.
    pub handle: String,
    /// invited or member.
    pub status: String,
    /// Invited, Unix ms.
    pub invited_at: i64,
    /// Joined, Unix ms.
    pub joined_at: Option<i64>,
}

fn friendship(r: &sqlx::any::AnyRow) -> Result<FriendshipRow, sqlx::Error> {
    Ok(FriendshipRow {
        id: r.try_get("id")?,
        requester_id: r.try_get("requester_id")?,
        addressee_id: r.try_get("addressee_id")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn party(r: &sqlx::any::AnyRow) -> Result<PartyRow, sqlx::Error> {
    Ok(PartyRow {
        id: r.try_get("id")?,
        leader_id: r.try_get("leader_id")?,
        created_at: r.try_get("created_at")?,
        disbanded_at: r.try_get("disbanded_at")?,
    })
}

impl Store {
    /// The request or friendship between two accounts, either direction.
    pub async fn friendship_between(
        &self,
        a: &str,
        b: &str,
    ) -> Result<Option<FriendshipRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, requester_id, addressee_id, status, created_at, updated_at FROM friendships \
             WHERE (requester_id = $1 AND addressee_id = $2) OR (requester_id = $2 AND addressee_id = $1)",
        )
        .bind(a)
        .bind(b)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(friendship).transpose()?)
    }

    /// A friendship row by id.
    pub async fn friendship(&self, id: &str) -> Result<Option<FriendshipRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, requester_id, addressee_id, status, created_at, updated_at FROM friendships WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(friendship).transpose()?)
    }

    /// Stores a new friend request; a request between the pair in this
    /// direction already existing is a conflict.
    pub async fn insert_friendship(&self, f: &FriendshipRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO friendships (id, requester_id, addressee_id, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&f.id)
        .bind(&f.requester_id)
        .bind(&f.addressee_id)
        .bind(&f.status)
        .bind(f.created_at)
        .bind(f.updated_at)
        .execute(self.pool())
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// Accepts a pending request addressed to `addressee`; false if none.
    pub async fn accept_friendship(
        &self,
        id: &str,
        addressee: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE friendships SET status = 'accepted', updated_at = $3 \
             WHERE id = $1 AND addressee_id = $2 AND status = 'pending'",
        )
        .bind(id)
        .bind(addressee)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a request or friendship row by id if `party` is in it.
    pub async fn delete_friendship(&self, id: &str, party: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM friendships WHERE id = $1 AND (requester_id = $2 OR addressee_id = $2)",
        )
        .bind(id)
        .bind(party)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes whatever links two accounts (request or friendship).
    pub async fn delete_friendship_between(&self, a: &str, b: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM friendships WHERE (requester_id = $1 AND addressee_id = $2) \
             OR (requester_id = $2 AND addressee_id = $1)",
        )
        .bind(a)
        .bind(b)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every request and friendship an account is in, with the other side.
    pub async fn friendships_of(&self, account: &str) -> Result<Vec<FriendshipView>, StoreError> {
        let rows = sqlx::query(
            "SELECT f.id, f.requester_id, f.addressee_id, f.status, f.created_at, f.updated_at, \
             a.id AS other_id, a.handle AS other_handle, a.display_name AS other_display_name \
             FROM friendships f JOIN accounts a \
             ON a.id = CASE WHEN f.requester_id = $1 THEN f.addressee_id ELSE f.requester_id END \
             WHERE f.requester_id = $1 OR f.addressee_id = $1 ORDER BY f.created_at, f.id",
        )
        .bind(account)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FriendshipView {
                    row: friendship(r)?,
                    other_id: r.try_get("other_id")?,
                    other_handle: r.try_get("other_handle")?,
                    other_display_name: r.try_get("other_display_name")?,
                })
            })
            .collect()
    }

    /// Whether two accounts are friends.
    pub async fn are_friends(&self, a: &str, b: &str) -> Result<bool, StoreError> {
        Ok(self
            .friendship_between(a, b)
            .await?
            .is_some_and(|f| f.status == "accepted"))
    }

    /// Records that `blocker` blocks `blocked` (idempotent).
    pub async fn insert_block(
        &self,
        blocker: &str,
        blocked: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let exists =
            sqlx::query("SELECT 1 AS x FROM blocks WHERE blocker_id = $1 AND blocked_id = $2")
                .bind(blocker)
                .bind(blocked)
                .fetch_optional(self.pool())
                .await?;
        if exists.is_none() {
            match sqlx::query(
                "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3)",
            )
            .bind(blocker)
            .bind(blocked)
            .bind(now)
            .execute(self.pool())
            .await
            .map_err(StoreError::from_write)
            {
                // A concurrent block of the same pair is the same outcome.
                Ok(_) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Lifts a block; false when there was none.
    pub async fn delete_block(&self, blocker: &str, blocked: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2")
            .bind(blocker)
            .bind(blocked)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether either account blocks the other.
    pub async fn blocked_between(&self, a: &str, b: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS x FROM blocks WHERE (blocker_id = $1 AND blocked_id = $2) \
             OR (blocker_id = $2 AND blocked_id = $1)",
        )
        .bind(a)
        .bind(b)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Accounts `blocker` blocks: (id, handle, since).
    pub async fn blocks_of(&self, blocker: &str) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id, a.handle, b.created_at FROM blocks b JOIN accounts a ON a.id = b.blocked_id \
             WHERE b.blocker_id = $1 ORDER BY b.created_at, a.id",
        )
        .bind(blocker)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("handle")?,
                    r.try_get("created_at")?,
                ))
            })
            .collect()
    }

    /// Creates a party with its leader as the first member.
    pub async fn insert_party(&self, p: &PartyRow) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("INSERT INTO parties (id, leader_id, created_at) VALUES ($1, $2, $3)")
            .bind(&p.id)
            .bind(&p.leader_id)
            .bind(p.created_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO party_members (party_id, account_id, status, invited_at, joined_at) \
             VALUES ($1, $2, 'member', $3, $3)",
        )
        .bind(&p.id)
        .bind(&p.leader_id)
        .bind(p.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A party by id.
    pub async fn party(&self, id: &str) -> Result<Option<PartyRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, leader_id, created_at, disbanded_at FROM parties WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(party).transpose()?)
    }

    /// The live party an account is a member of.
    pub async fn party_of(&self, account: &str) -> Result<Option<PartyRow>, StoreError> {
        let row = sqlx::query(
            "SELECT p.id, p.leader_id, p.created_at, p.disbanded_at FROM parties p \
             JOIN party_members m ON m.party_id = p.id \
             WHERE m.account_id = $1 AND m.status = 'member' AND p.disbanded_at IS NULL",
        )
        .bind(account)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(party).transpose()?)
    }

    /// Members and invitees of a party, members first.
    pub async fn party_members(&self, party_id: &str) -> Result<Vec<PartyMemberRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.account_id, a.handle, m.status, m.invited_at, m.joined_at \
             FROM party_members m JOIN accounts a ON a.id = m.account_id \
             WHERE m.party_id = $1 ORDER BY m.status DESC, m.invited_at, m.account_id",
        )
        .bind(party_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PartyMemberRow {
                    account_id: r.try_get("account_id")?,
                    handle: r.try_get("handle")?,
                    status: r.try_get("status")?,
                    invited_at: r.try_get("invited_at")?,
                    joined_at: r.try_get("joined_at")?,
                })
            })
            .collect()
    }

    /// Live parties an account is invited to.
    pub async fn party_invites_of(&self, account: &str) -> Result<Vec<PartyRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.id, p.leader_id, p.created_at, p.disbanded_at FROM parties p \
             JOIN party_members m ON m.party_id = p.id \
             WHERE m.account_id = $1 AND m.status = 'invited' AND p.disbanded_at IS NULL \
             ORDER BY m.invited_at, p.id",
        )
        .bind(account)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(party).collect::<Result<_, _>>()?)
    }

    /// Invites an account (a repeated invitation is a conflict).
    pub async fn invite_to_party(
        &self,
        party_id: &str,
        account: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO party_members (party_id, account_id, status, invited_at) VALUES ($1, $2, 'invited', $3)",
        )
        .bind(party_id)
        .bind(account)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// Turns an invitation into membership; false when there was none.
    pub async fn accept_party_invite(
        &self,
        party_id: &str,
        account: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE party_members SET status = 'member', joined_at = $3 \
             WHERE party_id = $1 AND account_id = $2 AND status = 'invited'",
        )
        .bind(party_id)
        .bind(account)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes an account (member or invitee) from a party.
    pub async fn remove_from_party(
        &self,
        party_id: &str,
        account: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM party_members WHERE party_id = $1 AND account_id = $2")
            .bind(party_id)
            .bind(account)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Hands leadership to another member.
    pub async fn set_party_leader(&self, party_id: &str, leader: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE parties SET leader_id = $2 WHERE id = $1")
            .bind(party_id)
            .bind(leader)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Disbands a party (its invitations lapse with it).
    pub async fn disband_party(&self, party_id: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE parties SET disbanded_at = $2 WHERE id = $1 AND disbanded_at IS NULL",
        )
        .bind(party_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
