#!/usr/bin/env python3
"""Regenerates schema/entities.txt from the real BC API v2.0 $metadata.

Usage: python3 schema/gen_schema.py ../../reference/bc/metadata.xml > schema/entities.txt

Format (one record a line, tab separated):
  E <entityType> <entitySet>             an entity type and the entity set that serves it
  P <name> <type> <maxLength|-> <nullable 0|1>
  N <name> <targetType> <collection 0|1> a navigation property we serve
  M <enumType> <member:value>...         enum members in metadata order
"""
import sys
import xml.etree.ElementTree as ET

NS = {"edm": "http://docs.oasis-open.org/odata/ns/edm"}
SERVED = ["company", "salesInvoice", "salesInvoiceLine", "salesOrder", "salesOrderLine",
          "salesQuote", "salesQuoteLine", "salesCreditMemo", "salesCreditMemoLine",
          "purchaseInvoice", "purchaseInvoiceLine", "purchaseOrder", "purchaseOrderLine",
          "customer", "vendor", "item", "contact", "employee", "generalLedgerEntry",
          "project", "companyInformation", "documentAttachment", "pdfDocument",
          "salesShipment", "salesShipmentLine", "purchaseReceipt", "purchaseReceiptLine",
          "purchaseCreditMemo", "purchaseCreditMemoLine", "itemLedgerEntry", "bankAccount"]
NAVS = {"salesInvoiceLines", "salesOrderLines", "salesQuoteLines", "salesCreditMemoLines",
        "purchaseInvoiceLines", "purchaseOrderLines", "pdfDocument", "customer", "vendor",
        "salesShipmentLines", "purchaseReceiptLines", "purchaseCreditMemoLines"}

root = ET.parse(sys.argv[1]).getroot()
schema = root.find(".//edm:Schema", NS)
sets = {}
for es in schema.iter("{%s}EntitySet" % NS["edm"]):
    sets.setdefault(es.get("EntityType").split(".")[-1], es.get("Name"))
types = {t.get("Name"): t for t in schema.findall("edm:EntityType", NS)}
enums_used = set()
for name in SERVED:
    t = types[name]
    print("E\t%s\t%s" % (name, sets.get(name, "-")))
    for p in t.findall("edm:Property", NS):
        ty = p.get("Type")
        if ty.startswith("Microsoft.NAV."):
            enums_used.add(ty.split(".")[-1])
        print("P\t%s\t%s\t%s\t%s" % (p.get("Name"), ty, p.get("MaxLength", "-"),
                                   "0" if p.get("Nullable") == "false" else "1"))
    for n in t.findall("edm:NavigationProperty", NS):
        if n.get("Name") in NAVS:
            ty = n.get("Type")
            coll = ty.startswith("Collection(")
            ty = ty[len("Collection("):-1] if coll else ty
            print("N\t%s\t%s\t%d" % (n.get("Name"), ty.split(".")[-1], coll))
for e in schema.findall("edm:EnumType", NS):
    if e.get("Name") in enums_used:
        print("M\t%s\t%s" % (e.get("Name"), "\t".join(m.get("Name") + ":" + m.get("Value") for m in e.findall("edm:Member", NS))))
