//! Word lists for realistic, varied demo data (non-ASCII on purpose: BC
//! tenants are international and the connector must keep UTF-8 intact).
//! Every character is in Windows-1252 so the generated PDFs can show it.

/// Customer / vendor company names.
pub const COMPANY_NAMES: &[&str] = &[
    "Adatum Corporation",
    "Trey Research",
    "School of Fine Art",
    "Alpine Ski House",
    "Relecloud",
    "Müller & Söhne GmbH",
    "Škoda Dílna s.r.o.",
    "Café Crème Société Anonyme",
    "Fabrikam, Inc.",
    "Coho Winery",
    "Nordlys Fiskeri AS",
    "Østergaard Møbler ApS",
    "Señora Núñez Importaciones S.L.",
    "Żabka Hurt S.A.",
    "Öztürk Tekstil Ltd.",
    "Wide World Importers",
    "Litware, Inc.",
    "The Phone Company",
    "Blue Yonder Airlines",
    "Bäckerei Größer KG",
    "Les Délices d'Annecy SARL",
    "Tailspin Toys",
    "Northwind Traders",
    "Proseware, Inc.",
    "Contoso Pharmaceuticals",
    "Lucerne Publishing",
    "Margie's Travel",
];

/// Name suffixes that keep thousands of customers distinct.
pub const NAME_SUFFIX: &[&str] = &[
    "",
    " West",
    " East",
    " Nord",
    " Süd",
    " Holding",
    " Services",
    " Retail",
];

/// Street names.
pub const STREETS: &[&str] = &[
    "Market Square",
    "Thomas Drive",
    "Hauptstraße",
    "Rue de la Paix",
    "Ulica Długa",
    "Královská",
    "Storgata",
    "Calle Mayor",
    "Main Street",
    "Åsvegen",
    "Bahnhofstraße",
];

/// (city, state, country, postal code prefix)
pub const CITIES: &[(&str, &str, &str, &str)] = &[
    ("Atlanta", "GA", "US", "317"),
    ("Chicago", "IL", "US", "612"),
    ("Miami", "FL", "US", "331"),
    ("München", "", "DE", "803"),
    ("Köln", "", "DE", "506"),
    ("Praha", "", "CZ", "110"),
    ("Kraków", "", "PL", "301"),
    ("Genève", "", "CH", "120"),
    ("Zürich", "", "CH", "800"),
    ("Malmö", "", "SE", "211"),
    ("Oslo", "", "NO", "015"),
    ("Sevilla", "", "ES", "410"),
];

/// Person first names.
pub const FIRST: &[&str] = &[
    "Robert",
    "Helen",
    "Jürgen",
    "Zoë",
    "Łukasz",
    "Renée",
    "Søren",
    "Ana",
    "José",
    "Miloš",
    "Ingrid",
    "François",
    "Aiko",
    "Mateus",
    "Chloé",
];

/// Person last names.
pub const LAST: &[&str] = &[
    "Townes",
    "Ray",
    "Müller",
    "Dvořák",
    "Nowak",
    "Øberg",
    "García",
    "Brontë",
    "Schäfer",
    "Kowalczyk",
    "Lefèvre",
    "Andersson",
    "Smith",
    "O'Connor",
];

/// Item base names.
pub const ITEMS: &[&str] = &[
    "ATHENS Desk",
    "PARIS Guest Chair, black",
    "ROME Guest Chair, green",
    "TOKYO Guest Chair, blue",
    "MEXICO Swivel Chair, black",
    "MUNICH Swivel Chair, yellow",
    "Bürostuhl ergonomisch",
    "Schreibtischlampe LED",
    "Conference Bundle 1-6",
    "Dětská židle",
    "Kaffeemaschine Crème",
    "Whiteboard 120×90",
    "Monitor arm, dual",
    "Laptop stand – aluminium",
];

/// Long descriptive tails used to push descriptions towards their MaxLength.
pub const TAILS: &[&str] = &[
    "",
    "",
    " with extended warranty",
    " – delivered and installed on site, including removal of packaging material and old furniture",
    " (special order, non-returnable)",
    ", Farbe: anthrazit, Lieferung frei Haus",
];

/// Units of measure.
pub const UOM: &[&str] = &["PCS", "BOX", "HOUR", "SET", "PACK"];

/// Salesperson codes.
pub const SALES: &[&str] = &["JO", "RS", "PS", "BC", "JM"];

/// Job titles.
pub const JOBS: &[&str] = &[
    "Sales Manager",
    "Buchhalterin",
    "Purchasing Agent",
    "Directeur général",
    "Warehouse Lead",
];

/// General ledger descriptions.
pub const GL_DESC: &[&str] = &[
    "Sales Invoice",
    "Purchase Invoice",
    "Payment received",
    "Order 1043",
    "Abschreibung",
    "Rückerstattung",
];
