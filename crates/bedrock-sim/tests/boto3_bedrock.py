"""Drives bedrock-sim with boto3's own clients, as a Python connector would.

Run by tests/boto3.rs with the emulator's details in the environment:
BEDROCK_ENDPOINT (for both bedrock-agent and bedrock-agent-runtime),
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION,
BEDROCK_KNOWLEDGE_BASE_ID, BEDROCK_DATA_SOURCE_ID. The clients get only
`endpoint_url` (the credentials and region come from the environment); one
extra client without retries sees a throttled call as it is answered.

Exits 0 when everything matched; otherwise non-zero with a line saying what
did not.
"""

import json
import os
import sys
import time
import urllib.request

try:
    import boto3
    import botocore
    import botocore.model
    from botocore.config import Config
    from botocore.exceptions import ClientError
except ImportError as e:  # pragma: no cover - environment problem
    sys.exit(f"boto3 is not installed for {sys.executable} ({e}): run scripts/test, which installs it")

ENDPOINT = os.environ["BEDROCK_ENDPOINT"]
KB = os.environ["BEDROCK_KNOWLEDGE_BASE_ID"]
DS = os.environ["BEDROCK_DATA_SOURCE_ID"]


def fail(msg):
    sys.exit(f"mismatch: {msg}")


def check(cond, msg):
    if not cond:
        fail(msg)


def control(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(ENDPOINT + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"{}")


def error_code(fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
    return None, ""


agent = boto3.client("bedrock-agent", endpoint_url=ENDPOINT)
runtime = boto3.client("bedrock-agent-runtime", endpoint_url=ENDPOINT)
def too_old(what):
    sys.exit(
        f"boto3 {boto3.__version__} (botocore {botocore.__version__}) under {sys.executable} lacks {what}: "
        "run scripts/test, which installs the pinned boto3 (scripts/test-requirements.txt)"
    )


for client, op in [
    (agent, "ingest_knowledge_base_documents"),
    (agent, "get_knowledge_base_documents"),
    (runtime, "retrieve"),
]:
    if not hasattr(client, op):
        too_old(op)
try:
    agent.meta.service_model.shape_for("ManagedKnowledgeBaseConnectorConfiguration")
except botocore.model.NoShapeFoundError:
    too_old("Bedrock managed knowledge bases (ManagedKnowledgeBaseConnectorConfiguration)")
if "MANAGED" not in agent.meta.service_model.shape_for("KnowledgeBaseType").enum:
    too_old("the MANAGED knowledge base type")


def text_doc(doc_id, text, acl=None, attrs=None):
    d = {
        "content": {
            "dataSourceType": "CUSTOM",
            "custom": {
                "customDocumentIdentifier": {"id": doc_id},
                "sourceType": "IN_LINE",
                "inlineContent": {"type": "TEXT", "textContent": {"data": text}},
            },
        }
    }
    meta = {"type": "IN_LINE_ATTRIBUTE"}
    if acl:
        meta["accessControlList"] = [{"name": n, "type": "USER", "access": a} for n, a in acl]
    if attrs:
        meta["inlineAttributes"] = attrs
    if acl or attrs:
        d["metadata"] = meta
    return d


def ident(doc_id):
    return {"dataSourceType": "CUSTOM", "custom": {"id": doc_id}}


def statuses(ids):
    out = agent.get_knowledge_base_documents(
        knowledgeBaseId=KB, dataSourceId=DS, documentIdentifiers=[ident(i) for i in ids]
    )
    return {d["identifier"]["custom"]["id"]: (d["status"], d.get("statusReason")) for d in out["documentDetails"]}


def wait_final(ids, final=("INDEXED", "FAILED", "IGNORED", "NOT_FOUND")):
    deadline = time.time() + 30
    while True:
        st = statuses(ids)
        if all(s in final for s, _ in st.values()):
            return st
        if time.time() > deadline:
            fail(f"documents did not reach a final status: {st}")
        time.sleep(0.02)


def retrieve(query, user=None, n=None):
    kwargs = {"knowledgeBaseId": KB, "retrievalQuery": {"text": query}}
    if user is not None:
        kwargs["userContext"] = {"userId": user}
    if n is not None:
        kwargs["retrievalConfiguration"] = {"vectorSearchConfiguration": {"numberOfResults": n}}
    out = runtime.retrieve(**kwargs)
    return sorted(r["location"]["customDocumentLocation"]["id"] for r in out["retrievalResults"]), out


# The knowledge base and its custom data source.
kb = agent.get_knowledge_base(knowledgeBaseId=KB)["knowledgeBase"]
check(kb["knowledgeBaseConfiguration"]["type"] == "MANAGED", f"knowledge base type {kb}")
check(kb["status"] == "ACTIVE", f"knowledge base status {kb['status']}")
ds = agent.get_data_source(knowledgeBaseId=KB, dataSourceId=DS)["dataSource"]
conf = ds["dataSourceConfiguration"]
check(conf["type"] == "MANAGED_KNOWLEDGE_BASE_CONNECTOR", f"data source type {conf}")
params = conf["managedKnowledgeBaseConnectorConfiguration"]["connectorParameters"]
check(params == {"type": "CUSTOM", "version": "1", "aclEnabled": True}, f"connectorParameters {params}")
code, _ = error_code(agent.get_knowledge_base, knowledgeBaseId="NOSUCHKB01")
check(code == "ResourceNotFoundException", f"unknown knowledge base answered {code}")

# Ingestion: TEXT with typed attributes, BYTE (HTML); asynchronous statuses.
control("POST", "/_sim/indexing/pause")
attrs = [
    {"key": "title", "value": {"type": "STRING", "stringValue": "Sales invoice 103001"}},
    {"key": "amount", "value": {"type": "NUMBER", "numberValue": 1250.5}},
    {"key": "open", "value": {"type": "BOOLEAN", "booleanValue": True}},
    {"key": "companies", "value": {"type": "STRING_LIST", "stringListValue": ["CRONUS", "Adatum"]}},
]
html = {
    "content": {
        "dataSourceType": "CUSTOM",
        "custom": {
            "customDocumentIdentifier": {"id": "page.html"},
            "sourceType": "IN_LINE",
            "inlineContent": {
                "type": "BYTE",
                "byteContent": {
                    "mimeType": "text/html",
                    "data": b"<html><body><h1>Adatum price list</h1><p>Bicycles 350.00</p></body></html>",
                },
            },
        },
    },
    "metadata": {
        "type": "IN_LINE_ATTRIBUTE",
        "accessControlList": [{"name": "alice@example.com", "type": "USER", "access": "ALLOW"}],
    },
}
out = agent.ingest_knowledge_base_documents(
    knowledgeBaseId=KB,
    dataSourceId=DS,
    documents=[
        text_doc(
            "SI-103001",
            "Sales invoice 103001 for Adatum Corporation",
            acl=[("alice@example.com", "ALLOW"), ("bob@example.com", "ALLOW"), ("Bob@Example.com", "DENY")],
            attrs=attrs,
        ),
        html,
    ],
)
check(out["ResponseMetadata"]["HTTPStatusCode"] == 202, f"ingest answered {out['ResponseMetadata']}")
check([d["status"] for d in out["documentDetails"]] == ["STARTING", "STARTING"], f"ingest statuses {out}")
check(statuses(["SI-103001"])["SI-103001"][0] == "STARTING", "held document is not STARTING")
control("POST", "/_sim/indexing/resume")
st = wait_final(["SI-103001", "page.html"])
check(all(s == "INDEXED" for s, _ in st.values()), f"not indexed: {st}")
dump = {d["id"]: d for d in control("GET", "/_sim/documents")["documents"]}
check(dump["page.html"]["textLength"] > 0 and dump["page.html"]["contentType"] == "text/html", f"dump {dump}")

# Pagination with the paginator.
pages = agent.get_paginator("list_knowledge_base_documents").paginate(
    knowledgeBaseId=KB, dataSourceId=DS, PaginationConfig={"PageSize": 1}
)
listed = [d["identifier"]["custom"]["id"] for p in pages for d in p["documentDetails"]]
check(listed == ["SI-103001", "page.html"], f"listed {listed}")

# Retrieve and access control.
ids, out = retrieve("Adatum", user="ALICE@example.com")
check(ids == ["SI-103001", "page.html"], f"alice sees {ids}")
hit = next(r for r in out["retrievalResults"] if r["location"]["customDocumentLocation"]["id"] == "SI-103001")
check(hit["location"]["type"] == "CUSTOM", f"location {hit['location']}")
check(hit["metadata"]["amount"] == 1250.5 and hit["metadata"]["open"] is True, f"metadata {hit['metadata']}")
check(hit["metadata"]["companies"] == ["CRONUS", "Adatum"], f"metadata {hit['metadata']}")
check("103001" in hit["content"]["text"], f"passage {hit['content']}")
check(0 < hit["score"] < 1, f"score {hit['score']}")
check(retrieve("Adatum", user="bob@example.com")[0] == [], "bob is denied the invoice and not listed on the page")
check(retrieve("Adatum")[0] == [], "a query without user context must get nothing")
check(retrieve("Adatum", user="alice@example.com", n=1)[0] != [], "numberOfResults 1")
check(len(retrieve("Adatum", user="alice@example.com", n=1)[0]) == 1, "numberOfResults 1 gives one result")

# Limits botocore does not check client-side reach the emulator.
for what, kwargs in [
    ("documents", {"documents": [text_doc(f"d{i}", "x") for i in range(11)]}),
    ("customDocumentIdentifier.id", {"documents": [text_doc("a" * 2049, "x")]}),
    (
        "inlineAttributes",
        {"documents": [text_doc("a", "x", attrs=[{"key": f"k{i}", "value": {"type": "BOOLEAN", "booleanValue": True}} for i in range(51)])]},
    ),
    (
        "accessControlList.1.member.name",
        {"documents": [text_doc("a", "x", acl=[("n" * 257, "ALLOW")])]},
    ),
]:
    code, message = error_code(agent.ingest_knowledge_base_documents, knowledgeBaseId=KB, dataSourceId=DS, **kwargs)
    check(code == "ValidationException" and what in message, f"{what}: {code} {message}")
code, message = error_code(agent.list_knowledge_base_documents, knowledgeBaseId=KB, dataSourceId=DS, maxResults=1001)
check(code == "ValidationException" and "maxResults" in message, f"maxResults: {code} {message}")
code, message = error_code(
    runtime.retrieve,
    knowledgeBaseId=KB,
    retrievalQuery={"text": "x"},
    retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": 101}},
)
check(code == "ValidationException" and "numberOfResults" in message, f"numberOfResults: {code} {message}")

# Idempotency: same token, same request → same answer; other request → refused.
token = "boto3-0123456789abcdef0123456789abcdef"
first = agent.ingest_knowledge_base_documents(knowledgeBaseId=KB, dataSourceId=DS, clientToken=token, documents=[text_doc("idem", "x")])
again = agent.ingest_knowledge_base_documents(knowledgeBaseId=KB, dataSourceId=DS, clientToken=token, documents=[text_doc("idem", "x")])
check(first["documentDetails"] == again["documentDetails"], "a repeated clientToken must answer the same")
code, _ = error_code(
    agent.ingest_knowledge_base_documents, knowledgeBaseId=KB, dataSourceId=DS, clientToken=token, documents=[text_doc("other", "x")]
)
check(code == "ValidationException", f"a reused clientToken answered {code}")

# An injected ingestion failure, reported with its reason.
control("POST", "/_sim/faults", {"kind": "index_failure", "document_id_contains": "poison"})
agent.ingest_knowledge_base_documents(knowledgeBaseId=KB, dataSourceId=DS, documents=[text_doc("poison-1", "x")])
st = wait_final(["poison-1"])
check(st["poison-1"][0] == "FAILED" and st["poison-1"][1], f"injected failure: {st}")

# Throttling, seen by a client that does not retry.
no_retry = boto3.client("bedrock-agent", endpoint_url=ENDPOINT, config=Config(retries={"total_max_attempts": 1}))
control("PUT", "/_sim/rates", {"IngestKnowledgeBaseDocuments": 0})
code, _ = error_code(no_retry.ingest_knowledge_base_documents, knowledgeBaseId=KB, dataSourceId=DS, documents=[text_doc("t", "x")])
check(code == "ThrottlingException", f"throttled call answered {code}")
control("PUT", "/_sim/rates", {"IngestKnowledgeBaseDocuments": 100})

# Deletion: DELETING, then NOT_FOUND and gone from the list.
out = agent.delete_knowledge_base_documents(knowledgeBaseId=KB, dataSourceId=DS, documentIdentifiers=[ident("SI-103001")])
check(out["ResponseMetadata"]["HTTPStatusCode"] == 202, "delete answers 202")
check(out["documentDetails"][0]["status"] == "DELETING", f"delete answered {out['documentDetails']}")
check(wait_final(["SI-103001"])["SI-103001"][0] == "NOT_FOUND", "deleted document is not NOT_FOUND")
listed = [d["identifier"]["custom"]["id"] for d in agent.list_knowledge_base_documents(knowledgeBaseId=KB, dataSourceId=DS)["documentDetails"]]
check("SI-103001" not in listed, f"deleted document still listed: {listed}")
check(retrieve("103001", user="alice@example.com")[0] == [], "deleted document still retrieved")

print("boto3: all checks passed")
