//! Friends, blocks and parties.
//!
//! A block stands between two people in both directions: neither can
//! friend, invite or party with the other, and the campaigns module refuses
//! to seat them together (`Store::blocked_between`). Blocking ends any
//! friendship or pending request between the two and takes them out of
//! each other's parties.

use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::profile::FriendRequestsFrom;
use crate::accounts::{AccountError, invalid, new_id};
use crate::store::Store;
use crate::store::accounts::AccountRow;
use crate::store::social::{FriendshipRow, PartyRow};

/// Most members a party may have (leader included).
pub const MAX_PARTY_SIZE: usize = 8;

/// A person on one of my lists.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Person {
    /// Account id.
    pub id: String,
    /// Handle.
    pub handle: String,
    /// Display name.
    pub display_name: String,
}

impl From<&AccountRow> for Person {
    fn from(a: &AccountRow) -> Self {
        Person {
            id: a.id.clone(),
            handle: a.handle.clone(),
            display_name: a.display_name.clone(),
        }
    }
}

/// A friend request or friendship as one side sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Friendship {
    /// Id (accept, decline or cancel a request by it).
    pub id: String,
    /// The other person.
    pub with: Person,
    /// friend, incoming or outgoing.
    pub kind: String,
    /// Since, Unix ms.
    pub since: i64,
}

/// My friends and requests.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FriendLists {
    /// Accepted friendships.
    pub friends: Vec<Friendship>,
    /// Requests to me.
    pub incoming: Vec<Friendship>,
    /// Requests from me.
    pub outgoing: Vec<Friendship>,
}

/// Finds a live account by handle, or says the field is wrong.
async fn person(store: &Store, handle: &str) -> Result<AccountRow, AccountError> {
    store
        .account_by_handle(handle)
        .await?
        .filter(|a| a.standing != "deleted")
        .ok_or_else(|| invalid("handle", "no such user"))
}

/// Sends a friend request to `handle`. When they had already asked me, this
/// accepts theirs instead.
pub async fn request_friend(
    store: &Store,
    me: &str,
    handle: &str,
    now: i64,
) -> Result<Friendship, AccountError> {
    let other = person(store, handle).await?;
    if other.id == me {
        return Err(invalid("handle", "you cannot befriend yourself"));
    }
    if store.blocked_between(me, &other.id).await? {
        return Err(AccountError::Forbidden(
            "a block stands between you and this user".into(),
        ));
    }
    if let Some(existing) = store.friendship_between(me, &other.id).await? {
        if existing.status == "accepted" {
            return Err(AccountError::Conflict("you are already friends".into()));
        }
        if existing.requester_id == me {
            return Err(AccountError::Conflict(
                "your request is already pending".into(),
            ));
        }
        // They asked first: asking back accepts.
        store.accept_friendship(&existing.id, me, now).await?;
        return Ok(view(&existing, &other, "friend", now));
    }
    let profile = store
        .profile(&other.id)
        .await?
        .ok_or(AccountError::NotFound)?;
    if FriendRequestsFrom::from_stored(&profile.friend_requests_from) == FriendRequestsFrom::Nobody
    {
        return Err(AccountError::Forbidden(
            "this user does not take friend requests".into(),
        ));
    }
    let row = FriendshipRow {
        id: new_id(),
        requester_id: me.to_string(),
        addressee_id: other.id.clone(),
        status: "pending".into(),
        created_at: now,
        updated_at: now,
    };
    match store.insert_friendship(&row).await {
        Ok(()) => {}
        Err(crate::store::StoreError::Conflict(_)) => {
            return Err(AccountError::Conflict(
                "your request is already pending".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(view(&row, &other, "outgoing", now))
}

fn view(row: &FriendshipRow, other: &AccountRow, kind: &str, since: i64) -> Friendship {
    Friendship {
        id: row.id.clone(),
        with: other.into(),
        kind: kind.into(),
        since,
    }
}

/// Accepts a request addressed to me.
pub async fn accept_friend(
    store: &Store,
    me: &str,
    id: &str,
    now: i64,
) -> Result<(), AccountError> {
    let row = store.friendship(id).await?.ok_or(AccountError::NotFound)?;
    if row.addressee_id != me && row.requester_id != me {
        return Err(AccountError::NotFound);
    }
    if row.addressee_id != me || row.status != "pending" {
        return Err(AccountError::Conflict(
            "there is no request to you to accept".into(),
        ));
    }
    if store.blocked_between(me, &row.requester_id).await? {
        return Err(AccountError::Forbidden(
            "a block stands between you and this user".into(),
        ));
    }
    if !store.accept_friendship(id, me, now).await? {
        return Err(AccountError::Conflict(
            "there is no request to you to accept".into(),
        ));
    }
    Ok(())
}

/// Declines a request to me, cancels one from me, or ends a friendship.
pub async fn remove_friendship(store: &Store, me: &str, id: &str) -> Result<(), AccountError> {
    if store.delete_friendship(id, me).await? {
        Ok(())
    } else {
        Err(AccountError::NotFound)
    }
}

/// My friends and pending requests.
pub async fn friend_lists(store: &Store, me: &str) -> Result<FriendLists, AccountError> {
    let mut lists = FriendLists {
        friends: Vec::new(),
        incoming: Vec::new(),
        outgoing: Vec::new(),
    };
    for v in store.friendships_of(me).await? {
        let (kind, list) = match (v.row.status.as_str(), v.row.requester_id == me) {
            ("accepted", _) => ("friend", &mut lists.friends),
            (_, true) => ("outgoing", &mut lists.outgoing),
            (_, false) => ("incoming", &mut lists.incoming),
        };
        list.push(Friendship {
            id: v.row.id,
            with: Person {
                id: v.other_id,
                handle: v.other_handle,
                display_name: v.other_display_name,
            },
            kind: kind.into(),
            since: v.row.updated_at,
        });
    }
    Ok(lists)
}

/// Blocks a user: ends friendship and requests, and parts shared parties.
pub async fn block(
    store: &Store,
    me: &str,
    handle: &str,
    now: i64,
) -> Result<Person, AccountError> {
    let other = person(store, handle).await?;
    if other.id == me {
        return Err(invalid("handle", "you cannot block yourself"));
    }
    store.insert_block(me, &other.id, now).await?;
    store.delete_friendship_between(me, &other.id).await?;
    // Out of each other's parties: whoever is not the leader leaves (and
    // a pending invitation lapses).
    for (a, b) in [(me, other.id.as_str()), (other.id.as_str(), me)] {
        if let Some(p) = store.party_of(a).await?
            && p.leader_id == a
        {
            store.remove_from_party(&p.id, b).await?;
        }
    }
    Ok((&other).into())
}

/// Lifts my block of an account.
pub async fn unblock(store: &Store, me: &str, account_id: &str) -> Result<(), AccountError> {
    if store.delete_block(me, account_id).await? {
        Ok(())
    } else {
        Err(AccountError::NotFound)
    }
}

/// A party as its members see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Party {
    /// Id.
    pub id: String,
    /// The leader's account id (acts for the party when joining a campaign).
    pub leader_id: String,
    /// Members and invitees.
    pub members: Vec<PartyMember>,
    /// Created, Unix ms.
    pub created_at: i64,
}

/// A party member or invitee.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PartyMember {
    /// Account id.
    pub id: String,
    /// Handle.
    pub handle: String,
    /// member or invited.
    pub status: String,
}

/// Loads a party with its members.
pub async fn party_view(store: &Store, p: &PartyRow) -> Result<Party, AccountError> {
    let members = store
        .party_members(&p.id)
        .await?
        .into_iter()
        .map(|m| PartyMember {
            id: m.account_id,
            handle: m.handle,
            status: m.status,
        })
        .collect();
    Ok(Party {
        id: p.id.clone(),
        leader_id: p.leader_id.clone(),
        members,
        created_at: p.created_at,
    })
}

/// Creates a party led by me (one live party per person).
pub async fn create_party(store: &Store, me: &str, now: i64) -> Result<Party, AccountError> {
    if store.party_of(me).await?.is_some() {
        return Err(AccountError::Conflict(
            "leave your current party first".into(),
        ));
    }
    let row = PartyRow {
        id: new_id(),
        leader_id: me.to_string(),
        created_at: now,
        disbanded_at: None,
    };
    store.insert_party(&row).await?;
    party_view(store, &row).await
}

/// A live party I am a member of, by id; other parties are not found.
async fn my_party(store: &Store, me: &str, id: &str) -> Result<PartyRow, AccountError> {
    match store.party_of(me).await? {
        Some(p) if p.id == id => Ok(p),
        _ => Err(AccountError::NotFound),
    }
}

/// The leader invites a friend.
pub async fn invite(
    store: &Store,
    me: &str,
    party_id: &str,
    handle: &str,
    now: i64,
) -> Result<Party, AccountError> {
    let party = my_party(store, me, party_id).await?;
    if party.leader_id != me {
        return Err(AccountError::Forbidden("only the leader invites".into()));
    }
    let other = person(store, handle).await?;
    if other.id == me {
        return Err(invalid("handle", "you are already in the party"));
    }
    if store.blocked_between(me, &other.id).await? {
        return Err(AccountError::Forbidden(
            "a block stands between you and this user".into(),
        ));
    }
    if !store.are_friends(me, &other.id).await? {
        return Err(AccountError::Forbidden(
            "you can only invite friends".into(),
        ));
    }
    let members = store.party_members(party_id).await?;
    if members.len() >= MAX_PARTY_SIZE {
        return Err(AccountError::Conflict(format!(
            "a party has at most {MAX_PARTY_SIZE} members and invitees"
        )));
    }
    for m in &members {
        if store.blocked_between(&m.account_id, &other.id).await? {
            return Err(AccountError::Forbidden(
                "a block stands between this user and a party member".into(),
            ));
        }
    }
    match store.invite_to_party(party_id, &other.id, now).await {
        Ok(()) => {}
        Err(crate::store::StoreError::Conflict(_)) => {
            return Err(AccountError::Conflict("already invited or a member".into()));
        }
        Err(e) => return Err(e.into()),
    }
    party_view(store, &party).await
}

/// Accepts an invitation (leaving no other party behind: one at a time).
pub async fn accept_invite(
    store: &Store,
    me: &str,
    party_id: &str,
    now: i64,
) -> Result<Party, AccountError> {
    let party = store
        .party(party_id)
        .await?
        .filter(|p| p.disbanded_at.is_none())
        .ok_or(AccountError::NotFound)?;
    let invited = store
        .party_members(party_id)
        .await?
        .into_iter()
        .any(|m| m.account_id == me && m.status == "invited");
    if !invited {
        return Err(AccountError::NotFound);
    }
    if store.party_of(me).await?.is_some() {
        return Err(AccountError::Conflict(
            "leave your current party first".into(),
        ));
    }
    for m in store.party_members(party_id).await? {
        if m.status == "member" && store.blocked_between(&m.account_id, me).await? {
            return Err(AccountError::Forbidden(
                "a block stands between you and a party member".into(),
            ));
        }
    }
    if !store.accept_party_invite(party_id, me, now).await? {
        return Err(AccountError::NotFound);
    }
    party_view(store, &party).await
}

/// Declines an invitation.
pub async fn decline_invite(store: &Store, me: &str, party_id: &str) -> Result<(), AccountError> {
    let invited = store
        .party_members(party_id)
        .await?
        .into_iter()
        .any(|m| m.account_id == me && m.status == "invited");
    if !invited || !store.remove_from_party(party_id, me).await? {
        return Err(AccountError::NotFound);
    }
    Ok(())
}

/// Leaves a party. A leaving leader hands over to the longest-standing
/// member; the last member leaving disbands it.
pub async fn leave(store: &Store, me: &str, party_id: &str, now: i64) -> Result<(), AccountError> {
    let party = my_party(store, me, party_id).await?;
    store.remove_from_party(party_id, me).await?;
    let rest: Vec<_> = store
        .party_members(party_id)
        .await?
        .into_iter()
        .filter(|m| m.status == "member")
        .collect();
    match rest
        .iter()
        .min_by_key(|m| (m.joined_at, m.account_id.clone()))
    {
        None => {
            store.disband_party(party_id, now).await?;
        }
        Some(next) if party.leader_id == me => {
            store.set_party_leader(party_id, &next.account_id).await?;
        }
        Some(_) => {}
    }
    Ok(())
}

/// The leader disbands the party.
pub async fn disband(
    store: &Store,
    me: &str,
    party_id: &str,
    now: i64,
) -> Result<(), AccountError> {
    let party = my_party(store, me, party_id).await?;
    if party.leader_id != me {
        return Err(AccountError::Forbidden(
            "only the leader disbands the party".into(),
        ));
    }
    store.disband_party(party_id, now).await?;
    Ok(())
}
