//! Which keys are allowed where, read off the config types themselves so the list in an error
//! message can never drift from what the parser accepts.

use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::{
    Config, ConnectorConfig, Deprovisioning, EnterpriseConfig, JoinRule, Provisioning, Rules,
    ScheduleConfig,
};

/// The field names of a struct that derives `Deserialize`.
pub fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut capture = FieldsCapture(&[]);
    let _ = T::deserialize(&mut capture);
    capture.0
}

/// The keys allowed in the table that holds the key at `path` (dotted, as serde_ignored prints).
pub fn allowed_beside(path: &str) -> Option<&'static [&'static str]> {
    let parts: Vec<&str> = path.split('.').collect();
    let parent = &parts[..parts.len().saturating_sub(1)];
    Some(match parent {
        [] => fields_of::<Config>(),
        ["enterprises", _] => fields_of::<EnterpriseConfig>(),
        ["connectors", _] => fields_of::<ConnectorConfig>(),
        ["schedules", _] => fields_of::<ScheduleConfig>(),
        ["connectors", _, "rules"] => fields_of::<Rules>(),
        ["connectors", _, "rules", "join", _] => fields_of::<JoinRule>(),
        ["connectors", _, "rules", "provisioning", _] => fields_of::<Provisioning>(),
        ["connectors", _, "rules", "deprovisioning"] => fields_of::<Deprovisioning>(),
        _ => return None,
    })
}

struct FieldsCapture(&'static [&'static str]);

#[derive(Debug)]
struct Captured;

impl std::fmt::Display for Captured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fields captured")
    }
}

impl std::error::Error for Captured {}

impl de::Error for Captured {
    fn custom<T: std::fmt::Display>(_msg: T) -> Self {
        Captured
    }
}

impl<'de> Deserializer<'de> for &mut FieldsCapture {
    type Error = Captured;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Captured> {
        Err(Captured)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Captured> {
        self.0 = fields;
        Err(Captured)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_off_the_types() {
        assert!(fields_of::<Rules>().contains(&"import_flows"));
        assert_eq!(
            allowed_beside("connectors.a.rules.scop"),
            Some(fields_of::<Rules>())
        );
        assert_eq!(allowed_beside("versio"), Some(fields_of::<Config>()));
        assert_eq!(allowed_beside("connectors.a.settings.x"), None);
    }
}
