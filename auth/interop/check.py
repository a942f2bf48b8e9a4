#!/usr/bin/env python3
"""Interop check of the auth service with code we did not write.

Starting from nothing but the issuer URL and the CA bundle:

1. reads the discovery document with `requests`;
2. gets a token with `client_credentials` through Authlib's OAuth2Session,
   once with client_secret_basic and once with client_secret_post;
3. verifies each token with PyJWT, taking the key from PyJWKClient on the
   `jwks_uri` of the discovery document, with the algorithm the key
   declares, and requiring iss, aud, exp, nbf, iat, sub and jti;
4. checks a tampered token is refused, and that Authlib's introspection and
   revocation calls work against the server (active, then inactive).

Usage: check.py --issuer https://127.0.0.1:7443 --ca ca.pem \
           --credentials <data-dir>/demo-credentials.json [--client-id loadgen]
Exits non-zero with a message on the first failure.
"""

import argparse
import json
import ssl
import sys

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session

REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"]


def fail(message):
    print(f"interop FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--ca", required=True, help="CA bundle (PEM) of the server certificate")
    parser.add_argument("--credentials", required=True, help="demo-credentials.json of the server")
    parser.add_argument("--client-id", default="loadgen")
    parser.add_argument("--scope", default="orders:read")
    parser.add_argument("--audience", default="gateway")
    args = parser.parse_args()

    with open(args.credentials, encoding="utf-8") as f:
        secret = json.load(f)["clients"][args.client_id]

    # 1. Discovery: the only thing we are told is the issuer.
    meta_url = f"{args.issuer}/.well-known/openid-configuration"
    meta = requests.get(meta_url, verify=args.ca, timeout=10).json()
    check(meta.get("issuer") == args.issuer, f"discovery issuer {meta.get('issuer')!r} != {args.issuer!r}")
    check("client_credentials" in meta.get("grant_types_supported", []), "client_credentials not advertised")
    jwks_client = jwt.PyJWKClient(meta["jwks_uri"], ssl_context=ssl.create_default_context(cafile=args.ca))

    for method in ("client_secret_basic", "client_secret_post"):
        check(method in meta.get("token_endpoint_auth_methods_supported", []), f"{method} not advertised")
        # 2. A token from a standard OAuth 2.0 client.
        session = OAuth2Session(
            client_id=args.client_id,
            client_secret=secret,
            scope=args.scope,
            token_endpoint_auth_method=method,
        )
        # Per call: requests lets REQUESTS_CA_BUNDLE override `session.verify`.
        token = session.fetch_token(
            meta["token_endpoint"], grant_type="client_credentials", verify=args.ca
        )
        check(token.get("token_type", "").lower() == "bearer", f"token_type {token.get('token_type')!r}")
        check("refresh_token" not in token, "client_credentials returned a refresh token")
        access = token["access_token"]

        # 3. Verified by a standard JWT library with keys from the JWKS only.
        header = jwt.get_unverified_header(access)
        check(header.get("typ") == "at+jwt", f"typ {header.get('typ')!r}, expected at+jwt")
        signing_key = jwks_client.get_signing_key_from_jwt(access)
        algorithm = signing_key.algorithm_name
        check(
            algorithm in meta.get("access_token_signing_alg_values_supported", []),
            f"{algorithm} is not an advertised signing algorithm",
        )
        claims = jwt.decode(
            access,
            signing_key.key,
            algorithms=[algorithm],
            audience=args.audience,
            issuer=meta["issuer"],
            options={"require": REQUIRED_CLAIMS},
        )
        check(claims["client_id"] == args.client_id, f"client_id {claims['client_id']!r}")
        check(claims["scope"] == args.scope, f"scope {claims['scope']!r}, asked for {args.scope!r}")
        check(claims["exp"] - claims["iat"] == token["expires_in"], "exp - iat != expires_in")

        # 4a. A tampered signature must not verify.
        head, payload, signature = access.split(".")
        flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
        try:
            jwt.decode(f"{head}.{payload}.{flipped}", signing_key.key, algorithms=[algorithm],
                       audience=args.audience, issuer=meta["issuer"])
            fail("a token with a tampered signature verified")
        except jwt.InvalidSignatureError:
            pass

        print(f"ok  {method}: {algorithm} token kid={header['kid']} sub={claims['sub']} "
              f"aud={claims['aud']} scope={claims['scope']!r} verified with PyJWT via jwks_uri")

    # 4b. Introspection and revocation through Authlib.
    endpoint = meta["introspection_endpoint"]
    introspected = session.introspect_token(endpoint, token=access, verify=args.ca).json()
    check(introspected.get("active") is True, f"introspection of a fresh token: {introspected}")
    revoked = session.revoke_token(meta["revocation_endpoint"], token=access, verify=args.ca)
    check(revoked.status_code == 200, f"revocation answered {revoked.status_code}")
    introspected = session.introspect_token(endpoint, token=access, verify=args.ca).json()
    check(introspected == {"active": False}, f"introspection after revocation: {introspected}")
    print("ok  introspection and revocation through Authlib")
    print("interop OK")


if __name__ == "__main__":
    main()
