#!/bin/bash
# Sourced by tektoncd/catalog's test runner before each YAML of tests/ is applied (tns is the
# test namespace). Makes the cosign-public-key ConfigMap the test verifies with: the public
# half of a fresh ECDSA P-256 key, whose private half is thrown away (nothing was signed with it).
if ! ${KUBECTL_CMD:-kubectl} -n "${tns}" get configmap cosign-public-key >/dev/null 2>&1; then
    chainlet_key_dir=$(mktemp -d)
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "${chainlet_key_dir}/x509.pem"
    openssl pkey -in "${chainlet_key_dir}/x509.pem" -pubout -out "${chainlet_key_dir}/cosign.pub"
    ${KUBECTL_CMD:-kubectl} -n "${tns}" create configmap cosign-public-key \
        --from-file=cosign.pub="${chainlet_key_dir}/cosign.pub"
    rm -rf "${chainlet_key_dir}"
fi
