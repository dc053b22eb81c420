//! The compact entity schema served by the emulator.
//!
//! `schema/entities.txt` is generated from the real BC API v2.0 `$metadata`
//! by `schema/gen_schema.py` (only the types we serve, in metadata order), so
//! property order, Edm types, MaxLength and enum members match BC exactly.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// FNV-1a: property lookups by name are on the hot path of page generation
/// (millions per page), where SipHash's DoS resistance buys nothing.
#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

const SCHEMA_TXT: &str = include_str!("../schema/entities.txt");

/// The JSON-relevant kind of a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Edm.String`
    String,
    /// `Edm.Guid`
    Guid,
    /// `Edm.Date`
    Date,
    /// `Edm.DateTimeOffset`
    DateTime,
    /// `Edm.Decimal`
    Decimal,
    /// `Edm.Int32`
    Int32,
    /// `Edm.Int64`
    Int64,
    /// `Edm.Boolean`
    Boolean,
    /// `Edm.Stream` (served as media link annotations, never inline)
    Stream,
    /// `Microsoft.NAV.<enum>`: index into [`Schema::enums`]
    Enum(usize),
}

/// One structural property of an entity type.
#[derive(Debug, Clone)]
pub struct Prop {
    /// Property name as on the wire.
    pub name: &'static str,
    /// Full Edm type name as in `$metadata`.
    pub edm_type: &'static str,
    /// Parsed kind.
    pub kind: Kind,
    /// `MaxLength` facet, if any.
    pub max_len: Option<usize>,
    /// `Nullable` facet (false only on keys and a few numbers).
    pub nullable: bool,
}

/// A navigation property we can expand.
#[derive(Debug, Clone)]
pub struct Nav {
    /// Navigation property name (`salesInvoiceLines`, `pdfDocument`, `customer`).
    pub name: &'static str,
    /// Target entity type name.
    pub target: &'static str,
    /// Whether the target is a collection.
    pub collection: bool,
}

/// One entity type with its properties in metadata order.
#[derive(Debug)]
pub struct EntityType {
    /// Entity type name, e.g. `salesInvoice`.
    pub name: &'static str,
    /// Entity set name, e.g. `salesInvoices`.
    pub set: &'static str,
    /// Properties in metadata order.
    pub props: Vec<Prop>,
    /// Expandable navigation properties.
    pub navs: Vec<Nav>,
    index: FnvMap<&'static str, usize>,
}

impl EntityType {
    /// Index of a property by name.
    pub fn idx(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Index of a property that must exist (generator bug otherwise).
    pub fn must(&self, name: &str) -> usize {
        match self.idx(name) {
            Some(i) => i,
            None => panic!("schema: {} has no property {name}", self.name),
        }
    }

    /// Builds a type at runtime (the custom API page); leaked, lives for the process.
    pub fn leak_custom(name: &str, set: &str, fields: &[(String, String)]) -> &'static EntityType {
        let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
        let mut props = vec![Prop {
            name: "id",
            edm_type: "Edm.Guid",
            kind: Kind::Guid,
            max_len: None,
            nullable: false,
        }];
        for (n, ty) in fields {
            let kind = match ty.as_str() {
                "Edm.Decimal" => Kind::Decimal,
                "Edm.Int32" => Kind::Int32,
                "Edm.Int64" => Kind::Int64,
                "Edm.Boolean" => Kind::Boolean,
                "Edm.Date" => Kind::Date,
                "Edm.Guid" => Kind::Guid,
                "Edm.DateTimeOffset" => Kind::DateTime,
                _ => Kind::String,
            };
            props.push(Prop {
                name: leak(n),
                edm_type: leak(ty),
                kind,
                max_len: None,
                nullable: true,
            });
        }
        props.push(Prop {
            name: "lastModifiedDateTime",
            edm_type: "Edm.DateTimeOffset",
            kind: Kind::DateTime,
            max_len: None,
            nullable: true,
        });
        let index = props.iter().enumerate().map(|(i, p)| (p.name, i)).collect();
        Box::leak(Box::new(EntityType {
            name: leak(name),
            set: leak(set),
            props,
            navs: Vec::new(),
            index,
        }))
    }

    /// The qualified name used in BC error messages (`Microsoft.NAV.salesInvoice`).
    pub fn qualified(&self) -> String {
        format!("Microsoft.NAV.{}", self.name)
    }
}

/// An enum type with its members in metadata order.
#[derive(Debug)]
pub struct EnumType {
    /// Enum type name.
    pub name: &'static str,
    /// Member names (wire literals, e.g. `In_x0020_Review`).
    pub members: Vec<&'static str>,
    /// Member values as in `$metadata`.
    pub values: Vec<&'static str>,
}

/// The whole served schema.
#[derive(Debug)]
pub struct Schema {
    /// Entity types in file order.
    pub types: Vec<EntityType>,
    /// Enum types.
    pub enums: Vec<EnumType>,
}

impl Schema {
    /// The process-wide parsed schema.
    pub fn get() -> &'static Schema {
        static S: OnceLock<Schema> = OnceLock::new();
        S.get_or_init(|| parse(SCHEMA_TXT))
    }

    /// An entity type by type name.
    pub fn ty(&self, name: &str) -> &EntityType {
        self.types
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("schema: no type {name}"))
    }

    /// An entity type by entity set name.
    pub fn by_set(&self, set: &str) -> Option<&EntityType> {
        self.types.iter().find(|t| t.set == set)
    }

    /// Members of the enum of a property, if it is an enum.
    pub fn enum_members(&self, kind: Kind) -> Option<&[&'static str]> {
        match kind {
            Kind::Enum(i) => Some(&self.enums[i].members),
            _ => None,
        }
    }
}

fn parse(txt: &'static str) -> Schema {
    let mut enums: Vec<EnumType> = Vec::new();
    for line in txt.lines().filter(|l| l.starts_with("M\t")) {
        let mut f = line.split('\t').skip(1);
        let name = f.next().unwrap_or_default();
        let (members, values) = f.map(|m| m.split_once(':').unwrap_or((m, "0"))).unzip();
        enums.push(EnumType {
            name,
            members,
            values,
        });
    }
    let mut types: Vec<EntityType> = Vec::new();
    for line in txt.lines() {
        let f: Vec<&'static str> = line.split('\t').collect();
        match f[0] {
            "E" => types.push(EntityType {
                name: f[1],
                set: f[2],
                props: Vec::new(),
                navs: Vec::new(),
                index: FnvMap::default(),
            }),
            "P" => {
                let t = types.last_mut().expect("P before E");
                let kind = kind_of(f[2], &enums);
                t.index.insert(f[1], t.props.len());
                t.props.push(Prop {
                    name: f[1],
                    edm_type: f[2],
                    kind,
                    max_len: f[3].parse().ok(),
                    nullable: f[4] == "1",
                });
            }
            "N" => {
                let t = types.last_mut().expect("N before E");
                t.navs.push(Nav {
                    name: f[1],
                    target: f[2],
                    collection: f[3] == "1",
                });
            }
            _ => {}
        }
    }
    Schema { types, enums }
}

fn kind_of(t: &str, enums: &[EnumType]) -> Kind {
    match t {
        "Edm.String" => Kind::String,
        "Edm.Guid" => Kind::Guid,
        "Edm.Date" => Kind::Date,
        "Edm.DateTimeOffset" => Kind::DateTime,
        "Edm.Decimal" => Kind::Decimal,
        "Edm.Int32" => Kind::Int32,
        "Edm.Int64" => Kind::Int64,
        "Edm.Boolean" => Kind::Boolean,
        "Edm.Stream" => Kind::Stream,
        other => {
            let n = other.trim_start_matches("Microsoft.NAV.");
            Kind::Enum(
                enums
                    .iter()
                    .position(|e| e.name == n)
                    .unwrap_or_else(|| panic!("schema: unknown type {other}")),
            )
        }
    }
}

/// Renders `$metadata` CSDL for the served types (and the custom API, if any).
pub fn metadata_xml(extra: Option<&crate::config::CustomApiConfig>) -> String {
    use std::fmt::Write;
    let s = Schema::get();
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<edmx:Edmx Version=\"4.0\" xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\">\n  <edmx:DataServices>\n    <Schema Namespace=\"Microsoft.NAV\" xmlns=\"http://docs.oasis-open.org/odata/ns/edm\">\n",
    );
    for t in &s.types {
        let _ = writeln!(
            x,
            "      <EntityType Name=\"{}\">\n        <Key>\n          <PropertyRef Name=\"id\" />\n        </Key>",
            t.name
        );
        for p in &t.props {
            let _ = write!(
                x,
                "        <Property Name=\"{}\" Type=\"{}\"",
                p.name, p.edm_type
            );
            if !p.nullable {
                x.push_str(" Nullable=\"false\"");
            }
            if let Some(m) = p.max_len {
                let _ = write!(x, " MaxLength=\"{m}\"");
            }
            if p.kind == Kind::Decimal {
                x.push_str(" Scale=\"Variable\"");
            }
            x.push_str(" />\n");
        }
        for n in &t.navs {
            let ty = if n.collection {
                format!("Collection(Microsoft.NAV.{})", n.target)
            } else {
                format!("Microsoft.NAV.{}", n.target)
            };
            let _ = writeln!(
                x,
                "        <NavigationProperty Name=\"{}\" Type=\"{ty}\" ContainsTarget=\"true\" />",
                n.name
            );
        }
        x.push_str("      </EntityType>\n");
    }
    if let Some(c) = extra {
        let _ = writeln!(
            x,
            "      <EntityType Name=\"{}\">\n        <Key>\n          <PropertyRef Name=\"id\" />\n        </Key>\n        <Property Name=\"id\" Type=\"Edm.Guid\" Nullable=\"false\" />",
            c.entity_type
        );
        for (n, t) in &c.fields {
            let _ = writeln!(x, "        <Property Name=\"{n}\" Type=\"{t}\" />");
        }
        x.push_str("        <Property Name=\"lastModifiedDateTime\" Type=\"Edm.DateTimeOffset\" />\n      </EntityType>\n");
    }
    for e in &s.enums {
        let _ = writeln!(x, "      <EnumType Name=\"{}\">", e.name);
        for (m, v) in e.members.iter().zip(&e.values) {
            let _ = writeln!(x, "        <Member Name=\"{m}\" Value=\"{v}\" />");
        }
        x.push_str("      </EnumType>\n");
    }
    x.push_str("      <EntityContainer Name=\"NAV\">\n");
    for t in &s.types {
        let _ = writeln!(
            x,
            "        <EntitySet Name=\"{}\" EntityType=\"Microsoft.NAV.{}\" />",
            t.set, t.name
        );
    }
    if let Some(c) = extra {
        let _ = writeln!(
            x,
            "        <EntitySet Name=\"{}\" EntityType=\"Microsoft.NAV.{}\" />",
            c.entity_set, c.entity_type
        );
    }
    x.push_str("      </EntityContainer>\n    </Schema>\n  </edmx:DataServices>\n</edmx:Edmx>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_parses_invoice_in_metadata_order() {
        let s = Schema::get();
        let inv = s.ty("salesInvoice");
        assert_eq!(inv.props[0].name, "id");
        assert_eq!(inv.props[1].name, "number");
        assert_eq!(inv.props[1].max_len, Some(20));
        let st = inv.props[inv.must("status")].kind;
        assert!(s.enum_members(st).unwrap().contains(&"In_x0020_Review"));
        assert!(
            inv.navs
                .iter()
                .any(|n| n.name == "salesInvoiceLines" && n.collection)
        );
    }
}
