"""S3: bucket policies are evaluated with the request's condition keys, so conditional writes can be enforced.

`hubdeploy bootstrap` makes the artifact bucket refuse PutObject and CompleteMultipartUpload without
`If-None-Match` (`s3:if-none-match` Null, `s3:ObjectCreationOperation` true). moto knows neither key (the gap
shim `s3_bucket_policy_conditions` only answers for the transport), and it checks CompleteMultipartUpload as
"s3:PostObject", so the Deny would either refuse every write or none. This rule gives the shim's evaluation the
request context (policyeval's operators, the headers of this request) and checks CompleteMultipartUpload as the
s3:PutObject it is. An overwrite attempt WITH If-None-Match is answered 412 PreconditionFailed by moto itself.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from hubdeploy.infra.emulator import policyeval
from hubdeploy.infra.emulator.patching import patch
from hubdeploy.infra.emulator.rules import rule

_REQUEST = threading.local()  # the condition keys of the S3 object request being served on this thread


def request_context(method: str, query: dict[str, Any], headers: Any) -> dict[str, list[str]]:
    """S3's condition keys for an object request (those the bucket policies use), lowercase names."""
    context = {"aws:securetransport": ["true"]}  # the emulator stands in for AWS's HTTPS endpoints
    if headers.get("If-None-Match") is not None:
        context["s3:if-none-match"] = [headers["If-None-Match"]]
    if headers.get("If-Match") is not None:
        context["s3:if-match"] = [headers["If-Match"]]
    part_or_start = "partNumber" in query or "uploads" in query  # UploadPart(Copy), CreateMultipartUpload
    creates = (method == "PUT" and not part_or_start) or (method == "POST" and "uploadId" in query)
    if method in {"PUT", "POST"}:
        context["s3:objectcreationoperation"] = ["true" if creates else "false"]
    return context


def _condition_holds(condition: dict[str, Any]) -> bool | None:
    """The shim's condition check, with every operator policyeval knows and this request's keys."""
    context = getattr(_REQUEST, "context", None) or {"aws:securetransport": ["true"]}
    return policyeval.conditions_hold(condition, context)


@rule(doc="https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html")
def s3_bucket_policy_enforces_conditional_writes() -> None:
    """A bucket policy denying writes without If-None-Match refuses them (AccessDenied), and only them."""
    from urllib.parse import parse_qs, urlparse

    from moto.s3.exceptions import S3AccessDeniedError
    from moto.s3.responses import S3Response

    from hubdeploy.infra.emulator import shims

    original = S3Response._key_response

    def _key_response(self: S3Response, request: Any, full_url: str) -> Any:
        query = parse_qs(urlparse(full_url).query, keep_blank_values=True)
        _REQUEST.context = request_context(request.method, query, request.headers)
        try:
            if request.method == "PUT" or (request.method == "POST" and ("uploadId" in query or "uploads" in query)):
                # every object write is s3:PutObject to IAM and bucket policies (moto checks a POST as
                # s3:PostObject, and answers its own denial with an empty 403): refuse it in S3's shape
                bucket_name = self.parse_bucket_name_from_url(request, full_url)
                bucket = self.backend.buckets.get(bucket_name)
                if bucket is not None and bucket.policy:
                    resource = f"arn:aws:s3:::{bucket_name}/{self.parse_key_name()}"
                    document = json.loads(bucket.policy.decode())
                    outcome = policyeval.evaluate([document], "s3:PutObject", resource, _REQUEST.context)
                    if outcome.decision == "deny":
                        raise S3AccessDeniedError()
            return original(self, request, full_url)
        finally:
            _REQUEST.context = None

    patch(S3Response, "_key_response", _key_response)
    patch(shims, "_condition_holds", _condition_holds)
