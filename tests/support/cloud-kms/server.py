"""chainlet's own stand-in for Google Cloud KMS and Azure Key Vault, for the kms_cloud tests.

Neither service has an emulator that runs here, so this serves the REST calls chainlet makes,
as Google's and Microsoft's API references describe them, with real keys (Python
`cryptography`): what it proves is that chainlet speaks those shapes and that its signatures
verify with cosign; not that the real services answer exactly like this.

    server.py CONFIG.json      prints the port it listens on, then serves until killed

CONFIG (written by the test):
    mode        "gcp" or "azure"
    tls         {"cert": PEM file, "key": PEM file} to serve HTTPS (Azure); absent: plain HTTP
    out_dir     where each key version's public key is written as <label>-<version>.pub.pem
    token       the access token the token endpoint hands out
    accept      the access tokens the key service accepts
    keys        gcp:   [{"label", "name": "projects/…/cryptoKeys/K", "purpose",
                         "versions": [{"id", "algorithm", "state"}]}]
                azure: [{"label", "name", "kty": "EC"|"RSA", "crv"|"size", "versions": [id, …]}]
    tenant, client_id, client_secret, federated_token, scope     (azure's token endpoint)
    corrupt_signature_crc   (gcp) how many sign answers get a wrong signatureCrc32c first

GET /_test/log answers the requests seen so far: [{"method", "path", "authorized"}].
"""

import base64
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

CONFIG = json.load(open(sys.argv[1]))
LOG = []
LOCK = threading.Lock()
STATE = {"corrupt": CONFIG.get("corrupt_signature_crc", 0)}


def crc32c(data):
    """CRC32C (Castagnoli), bit by bit: independent of chainlet's table-driven one."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def b64(data):
    return base64.b64encode(data).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def pem_of(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def write_pem(label, version, key):
    path = os.path.join(CONFIG["out_dir"], f"{label}-{version}.pub.pem")
    with open(path, "w") as f:
        f.write(pem_of(key))


GCP_ALGORITHMS = {
    "EC_SIGN_P256_SHA256": ("sha256", lambda: ec.generate_private_key(ec.SECP256R1())),
    "EC_SIGN_P384_SHA384": ("sha384", lambda: ec.generate_private_key(ec.SECP384R1())),
    "RSA_SIGN_PKCS1_2048_SHA256": ("sha256", lambda: rsa.generate_private_key(65537, 2048)),
    "RSA_SIGN_PKCS1_3072_SHA256": ("sha256", lambda: rsa.generate_private_key(65537, 3072)),
    "RSA_SIGN_PSS_2048_SHA256": ("sha256", lambda: rsa.generate_private_key(65537, 2048)),
}
HASHES = {"sha256": (hashes.SHA256(), 32), "sha384": (hashes.SHA384(), 48)}

# GCP: resource name of a version -> {"algorithm", "state", "key"}; of a key -> its config.
GCP_KEYS = {}
GCP_VERSIONS = {}
# Azure: key name (lowercase) -> {"name", "versions": [(id, private key)]}
AZ_KEYS = {}

if CONFIG["mode"] == "gcp":
    for k in CONFIG["keys"]:
        GCP_KEYS[k["name"]] = k
        for v in k["versions"]:
            name = f'{k["name"]}/cryptoKeyVersions/{v["id"]}'
            key = GCP_ALGORITHMS[v["algorithm"]][1]()
            GCP_VERSIONS[name] = {"algorithm": v["algorithm"], "state": v["state"], "key": key}
            write_pem(k["label"], v["id"], key)
else:
    for k in CONFIG["keys"]:
        versions = []
        for vid in k["versions"]:
            if k["kty"] == "EC":
                curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}[k["crv"]]
                key = ec.generate_private_key(curve)
            else:
                key = rsa.generate_private_key(65537, k["size"])
            versions.append((vid, key))
            write_pem(k["label"], vid, key)
        AZ_KEYS[k["name"].lower()] = {"name": k["name"], "versions": versions}


def google_error(code, status, message):
    return code, {"error": {"code": code, "message": message, "status": status}}


def azure_error(code, kv_code, message):
    return code, {"error": {"code": kv_code, "message": message}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, doc, headers=()):
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def authorized(self):
        auth = self.headers.get("Authorization") or ""
        return auth.startswith("Bearer ") and auth[7:] in CONFIG.get("accept", [])

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        body = self.body()
        if url.path == "/_test/log":
            with LOCK:
                return self.answer(200, list(LOG))
        with LOCK:
            LOG.append({"method": method, "path": self.path, "authorized": self.authorized()})
        if CONFIG["mode"] == "gcp":
            result = self.gcp(method, url.path, query, body)
        else:
            result = self.azure(method, url.path, query, body)
        self.answer(*result)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    # --- Google: metadata server token, Cloud KMS v1 ---

    def gcp(self, method, path, query, body):
        if path == "/computeMetadata/v1/instance/service-accounts/default/token":
            if self.headers.get("Metadata-Flavor") != "Google":
                return 403, {"error": "Missing Metadata-Flavor:Google header."}
            return 200, {"access_token": CONFIG["token"], "expires_in": 3599, "token_type": "Bearer"}
        if not path.startswith("/v1/"):
            return google_error(404, "NOT_FOUND", "The requested URL was not found.")
        if not self.authorized():
            return google_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential.",
            )
        name = urllib.parse.unquote(path[len("/v1/"):])
        if method == "GET" and name.endswith("/publicKey"):
            return self.gcp_public_key(name[: -len("/publicKey")])
        if method == "POST" and name.endswith(":asymmetricSign"):
            return self.gcp_sign(name[: -len(":asymmetricSign")], body)
        if method == "GET" and name.endswith("/cryptoKeyVersions"):
            return self.gcp_list(name[: -len("/cryptoKeyVersions")], query)
        if method == "GET" and name in GCP_KEYS:
            k = GCP_KEYS[name]
            return 200, {
                "name": name,
                "purpose": k["purpose"],
                "versionTemplate": {"algorithm": k["versions"][0]["algorithm"]},
            }
        return google_error(404, "NOT_FOUND", f"{name} not found.")

    def gcp_public_key(self, name):
        v = GCP_VERSIONS.get(name)
        if v is None:
            return google_error(404, "NOT_FOUND", f"CryptoKeyVersion {name} not found.")
        pem = pem_of(v["key"])
        return 200, {
            "pem": pem,
            "algorithm": v["algorithm"],
            "pemCrc32c": str(crc32c(pem.encode())),
            "name": name,
            "protectionLevel": "SOFTWARE",
        }

    def gcp_list(self, key, query):
        if key not in GCP_KEYS:
            return google_error(404, "NOT_FOUND", f"CryptoKey {key} not found.")
        names = [n for n in GCP_VERSIONS if n.startswith(key + "/cryptoKeyVersions/")]
        if query.get("filter") == "state=ENABLED":
            names = [n for n in names if GCP_VERSIONS[n]["state"] == "ENABLED"]
        names.sort(reverse=query.get("orderBy") == "name desc")
        size = int(query.get("pageSize") or 0) or len(names)
        listed = [{"name": n, "state": GCP_VERSIONS[n]["state"], "algorithm": GCP_VERSIONS[n]["algorithm"]} for n in names[:size]]
        doc = {"totalSize": len(names)}
        if listed:
            doc["cryptoKeyVersions"] = listed
        return 200, doc

    def gcp_sign(self, name, body):
        v = GCP_VERSIONS.get(name)
        if v is None:
            return google_error(404, "NOT_FOUND", f"CryptoKeyVersion {name} not found.")
        if v["state"] != "ENABLED":
            return google_error(400, "FAILED_PRECONDITION", f"{name} is not enabled, current state is: {v['state']}.")
        req = json.loads(body)
        field, _ = GCP_ALGORITHMS[v["algorithm"]]
        digest_b64 = (req.get("digest") or {}).get(field)
        if digest_b64 is None:
            return google_error(400, "INVALID_ARGUMENT", f"The request digest must be a {field} digest.")
        digest = base64.b64decode(digest_b64)
        algorithm, size = HASHES[field]
        if len(digest) != size:
            return google_error(400, "INVALID_ARGUMENT", "Digest length is invalid.")
        verified = False
        if req.get("digestCrc32c") is not None:
            if int(req["digestCrc32c"]) != crc32c(digest):
                return google_error(400, "INVALID_ARGUMENT", "The checksum in field digest_crc32c did not match the data in field digest.")
            verified = True
        key = v["key"]
        if isinstance(key, ec.EllipticCurvePrivateKey):
            sig = key.sign(digest, ec.ECDSA(utils.Prehashed(algorithm)))
        elif "PSS" in v["algorithm"]:
            sig = key.sign(digest, padding.PSS(padding.MGF1(algorithm), size), utils.Prehashed(algorithm))
        else:
            sig = key.sign(digest, padding.PKCS1v15(), utils.Prehashed(algorithm))
        crc = crc32c(sig)
        with LOCK:
            if STATE["corrupt"] > 0:
                STATE["corrupt"] -= 1
                crc ^= 1
        return 200, {
            "signature": b64(sig),
            "signatureCrc32c": str(crc),
            "verifiedDigestCrc32c": verified,
            "name": name,
            "protectionLevel": "SOFTWARE",
        }

    # --- Azure: Entra ID token endpoint, Key Vault keys 7.4 ---

    def azure(self, method, path, query, body):
        if method == "POST" and path == f'/{CONFIG["tenant"]}/oauth2/v2.0/token':
            return self.azure_token(dict(urllib.parse.parse_qsl(body.decode())))
        if not path.startswith("/keys/"):
            return azure_error(404, "NotFound", "The requested resource was not found.")
        if query.get("api-version") != "7.4":
            return azure_error(400, "BadParameter", "The specified version is not recognized.")
        if not self.authorized():
            challenge = (
                f'Bearer authorization="https://login.microsoftonline.com/{CONFIG["tenant"]}", '
                'resource="https://vault.azure.net"'
            )
            message = (
                "AKV10000: Request is missing a Bearer or PoP token."
                if not self.headers.get("Authorization")
                else "[TokenExpired] Error validating token: 'S2S12086'."
            )
            code, doc = azure_error(401, "Unauthorized", message)
            return code, doc
        parts = path.split("/")[2:]
        if method == "GET" and len(parts) in (1, 2):
            return self.azure_get(parts[0], parts[1] if len(parts) == 2 else None)
        if method == "POST" and len(parts) == 3 and parts[2] == "sign":
            return self.azure_sign(parts[0], parts[1], json.loads(body))
        return azure_error(404, "NotFound", "The requested resource was not found.")

    def azure_token(self, form):
        bad = lambda code, err, desc: (code, {"error": err, "error_description": desc, "error_codes": [int(desc[6:desc.index(":")])]})
        if form.get("grant_type") != "client_credentials":
            return bad(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
        if form.get("client_id") != CONFIG["client_id"]:
            return bad(400, "unauthorized_client", "AADSTS700016: Application not found in the directory.")
        if form.get("scope") != CONFIG["scope"]:
            return bad(400, "invalid_scope", "AADSTS70011: The provided value for the input parameter 'scope' is not valid.")
        if "client_secret" in form:
            if form["client_secret"] != CONFIG.get("client_secret"):
                return bad(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        elif form.get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            assertion = form.get("client_assertion", "")
            try:
                claims = json.loads(unb64url(assertion.split(".")[1]))
            except Exception:
                return bad(400, "invalid_request", "AADSTS50027: JWT token is invalid or malformed.")
            if claims.get("exp", 0) < time.time():
                return bad(400, "invalid_client", "AADSTS700024: Client assertion is not within its valid time range.")
            if assertion != CONFIG.get("federated_token"):
                return bad(400, "invalid_client", "AADSTS700213: No matching federated identity record found for presented assertion.")
        else:
            return bad(400, "invalid_client", "AADSTS7000218: The request body must contain client_assertion or client_secret.")
        return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": CONFIG["token"]}

    def azure_version(self, name, version):
        k = AZ_KEYS.get(name.lower())
        if k is None:
            return None, None
        if version is None:
            return k, k["versions"][-1]
        for vid, key in k["versions"]:
            if vid == version:
                return k, (vid, key)
        return k, None

    def azure_get(self, name, version):
        k, v = self.azure_version(name, version)
        if v is None:
            return azure_error(404, "KeyNotFound", f"A key with (name/id) {name} was not found in this key vault.")
        vid, key = v
        jwk = {"kid": f'https://{self.headers.get("Host")}/keys/{k["name"]}/{vid}', "key_ops": ["sign", "verify"]}
        pub = key.public_key()
        if isinstance(key, ec.EllipticCurvePrivateKey):
            n = (pub.curve.key_size + 7) // 8
            nums = pub.public_numbers()
            jwk.update(kty="EC", crv={256: "P-256", 384: "P-384"}[pub.curve.key_size],
                       x=b64url(nums.x.to_bytes(n, "big")), y=b64url(nums.y.to_bytes(n, "big")))
        else:
            nums = pub.public_numbers()
            jwk.update(kty="RSA", n=b64url(nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")),
                       e=b64url(nums.e.to_bytes(3, "big")))
        return 200, {"key": jwk, "attributes": {"enabled": True, "recoveryLevel": "Recoverable+Purgeable"}}

    def azure_sign(self, name, version, req):
        k, v = self.azure_version(name, version)
        if v is None:
            return azure_error(404, "KeyNotFound", f"A key with (name/id) {name}/{version} was not found in this key vault.")
        vid, key = v
        alg = req.get("alg")
        digest = unb64url(req.get("value", ""))
        algs = {"ES256": ("sha256", "EC"), "ES384": ("sha384", "EC"), "RS256": ("sha256", "RSA"),
                "RS384": ("sha384", "RSA")}
        if alg not in algs:
            return azure_error(400, "BadParameter", f"Invalid algorithm {alg}.")
        field, kty = algs[alg]
        algorithm, size = HASHES[field]
        is_ec = isinstance(key, ec.EllipticCurvePrivateKey)
        if (kty == "EC") != is_ec or len(digest) != size:
            return azure_error(400, "BadParameter", "Key and signing algorithm are incompatible.")
        if is_ec:
            expect = {256: "ES256", 384: "ES384"}[key.curve.key_size]
            if alg != expect:
                return azure_error(400, "BadParameter", "Key and signing algorithm are incompatible.")
            r, s = utils.decode_dss_signature(key.sign(digest, ec.ECDSA(utils.Prehashed(algorithm))))
            n = (key.curve.key_size + 7) // 8
            sig = r.to_bytes(n, "big") + s.to_bytes(n, "big")
        else:
            sig = key.sign(digest, padding.PKCS1v15(), utils.Prehashed(algorithm))
        return 200, {"kid": f'https://{self.headers.get("Host")}/keys/{k["name"]}/{vid}', "value": b64url(sig)}


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
if CONFIG.get("tls"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CONFIG["tls"]["cert"], CONFIG["tls"]["key"])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
