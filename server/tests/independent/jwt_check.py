"""Independent check of Cipherfold's access tokens with PyJWT.

Usage: jwt_check.py TOKEN KEY_FILE EXPECTED_SUB EXPECTED_ROLE
Reads the HS256 key the way docs/api.md describes it (hex in DATA_DIR/keys/jwt-hs256.hex),
verifies signature and claims, and checks that a tampered token is refused.
Prints one JSON line and exits 0 on success; any failure raises.
"""
import json
import sys

import jwt

token, key_file, want_sub, want_role = sys.argv[1:5]
key = bytes.fromhex(open(key_file).read().strip())
assert len(key) >= 32, "key shorter than 256 bits"

header = jwt.get_unverified_header(token)
assert header["alg"] == "HS256", header
claims = jwt.decode(token, key, algorithms=["HS256"], options={"require": ["exp", "iat", "sub", "jti"]})
assert claims["sub"] == want_sub, claims
assert claims["role"] == want_role, claims
assert claims["exp"] - claims["iat"] == 900, "access tokens live 15 minutes"
assert len(claims["jti"]) == 32, claims

head, body, sig = token.split(".")
tampered = f"{head}.{body}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}"
try:
    jwt.decode(tampered, key, algorithms=["HS256"])
    raise AssertionError("PyJWT accepted a tampered signature")
except jwt.InvalidSignatureError:
    pass

print(json.dumps({"verified": True, "sub": claims["sub"], "role": claims["role"], "ttl": claims["exp"] - claims["iat"]}))
