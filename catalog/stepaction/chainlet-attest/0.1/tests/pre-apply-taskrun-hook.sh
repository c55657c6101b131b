#!/bin/bash
# Sourced by tektoncd/catalog's test runner before each YAML of tests/ is applied (tns is the
# test namespace). Makes the signing-secrets Secret the test needs from a fresh ECDSA P-256
# key, so no private key is kept in the repository.
if ! ${KUBECTL_CMD:-kubectl} -n "${tns}" get secret signing-secrets >/dev/null 2>&1; then
    chainlet_key_dir=$(mktemp -d)
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "${chainlet_key_dir}/x509.pem"
    ${KUBECTL_CMD:-kubectl} -n "${tns}" create secret generic signing-secrets \
        --from-file=x509.pem="${chainlet_key_dir}/x509.pem"
    rm -rf "${chainlet_key_dir}"
fi
