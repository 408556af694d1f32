//! Account data of its own: numbers added by hand and dynamic statuses (see
//! [`ucsync_model::account`]). Both belong to no connector; changing them marks the account for
//! the next sync, which applies the number-retention rule and pushes the change out.

use ucsync_model::ConnectorFactory;
use ucsync_model::account::{
    DYNAMIC_STATUS, MANUAL_NUMBER, check_number, check_status_name, parse_status, status_value,
};
use ucsync_store::{Entry, HandEdit, HandEdited, Store};

use crate::EngineError;

/// One change of an account's own data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountEdit {
    AddNumber(String),
    RemoveNumber(String),
    /// Adds the status, or changes its "make call from" number.
    SetStatus {
        name: String,
        make_call_from: String,
    },
    ClearStatus(String),
}

/// Why an account edit was not made.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("there is no directory entry {0}; find its id with `ucsync directory search`")]
    NoEntry(i64),
    /// The edit is not valid for this account; says why and what to do.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl AccountEdit {
    fn attribute(&self) -> &'static str {
        match self {
            AccountEdit::AddNumber(_) | AccountEdit::RemoveNumber(_) => MANUAL_NUMBER,
            AccountEdit::SetStatus { .. } | AccountEdit::ClearStatus(_) => DYNAMIC_STATUS,
        }
    }

    /// Checks what an administrator typed, before the store is touched.
    fn check(&self) -> Result<(), String> {
        match self {
            AccountEdit::AddNumber(n) | AccountEdit::RemoveNumber(n) => check_number(n),
            AccountEdit::SetStatus {
                name,
                make_call_from,
            } => check_status_name(name).and_then(|()| check_number(make_call_from)),
            AccountEdit::ClearStatus(name) => check_status_name(name),
        }
    }

    /// The new hand-set values of the attribute from the current ones.
    fn apply(self, entry_id: i64, current: &[String]) -> Result<Vec<String>, String> {
        let mut values = current.to_vec();
        match self {
            AccountEdit::AddNumber(n) => {
                if !values.contains(&n) {
                    values.push(n);
                }
            }
            AccountEdit::RemoveNumber(n) => {
                let before = values.len();
                values.retain(|v| *v != n);
                if values.len() == before {
                    return Err(format!(
                        "entry {entry_id} has no hand-added number {n}; its hand-added numbers are: {}",
                        list(current)
                    ));
                }
            }
            AccountEdit::SetStatus {
                name,
                make_call_from,
            } => {
                let value = status_value(&name, &make_call_from);
                match values.iter_mut().find(|v| parse_status(v).0 == name) {
                    Some(v) => *v = value,
                    None => values.push(value),
                }
            }
            AccountEdit::ClearStatus(name) => {
                let before = values.len();
                values.retain(|v| parse_status(v).0 != name);
                if values.len() == before {
                    let names: Vec<String> = current
                        .iter()
                        .map(|v| parse_status(v).0.to_owned())
                        .collect();
                    return Err(format!(
                        "entry {entry_id} has no dynamic status \"{name}\"; its statuses are: {}",
                        list(&names)
                    ));
                }
            }
        }
        Ok(values)
    }
}

fn list(values: &[String]) -> String {
    if values.is_empty() {
        "none".to_owned()
    } else {
        values.join(", ")
    }
}

/// The one-way connector that gives an entry all its values, if any
/// ([`ucsync_model::Capabilities::one_way`]): such an entry is read-only. An entry another
/// connector gives values too (a person a community member joined) is not; objects
/// provisioned from the entry give it nothing and do not count.
pub async fn read_only_owner(
    store: &dyn Store,
    factory: &dyn ConnectorFactory,
    entry: &Entry,
) -> Result<Option<String>, EngineError> {
    let sources: std::collections::BTreeSet<i64> = entry
        .attrs
        .iter()
        .filter_map(|(_, source, _)| *source)
        .collect();
    if sources.is_empty() {
        return Ok(None);
    }
    let connectors = store.connectors().await?;
    let mut owner = None;
    for id in sources {
        let Some(c) = connectors.iter().find(|c| c.id == id) else {
            return Ok(None);
        };
        if !factory
            .capabilities(&c.kind)
            .is_some_and(|caps| caps.one_way)
        {
            return Ok(None);
        }
        owner = Some(c.name.clone());
    }
    Ok(owner)
}

/// Makes one edit of an account's own data and gives the entry as it is now. An entry a
/// one-way connector gives alone is read-only: the edit is refused, naming the connector.
pub async fn edit_account(
    store: &dyn Store,
    factory: &dyn ConnectorFactory,
    entry_id: i64,
    edit: AccountEdit,
) -> Result<Entry, AccountError> {
    edit.check().map_err(AccountError::Refused)?;
    let entry = store
        .entries_by_ids(&[entry_id])
        .await
        .map_err(EngineError::from)?
        .pop()
        .ok_or(AccountError::NoEntry(entry_id))?;
    if let Some(owner) = read_only_owner(store, factory, &entry).await? {
        return Err(AccountError::Refused(format!(
            "entry {entry_id} is read-only: connector {owner} reads it one way from its system and owns it alone; change it there, and the next sync brings the change"
        )));
    }
    let attr = edit.attribute();
    let change: HandEdit = Box::new(move |current| edit.apply(entry_id, current));
    match store
        .edit_hand_set(entry_id, attr, change)
        .await
        .map_err(EngineError::from)?
    {
        HandEdited::NoEntry => Err(AccountError::NoEntry(entry_id)),
        HandEdited::Refused(message) => Err(AccountError::Refused(message)),
        HandEdited::Done(entry) => Ok(entry),
    }
}
