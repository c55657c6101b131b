#!/bin/bash
# Sourced by tektoncd/catalog's test runner before each YAML of tests/ is applied (tns is the
# test namespace). Makes the signing-secrets Secret the test needs from a fresh ECDSA P-256
# key, so no private key is kept in the repository; then binds the Role of tasks/rbac.yaml
# (get pipelineruns and taskruns: the PipelineRun and its TaskRuns; patch pipelineruns:
# storage tekton) to the namespace's default service account, which the test runs as.
if ! ${KUBECTL_CMD:-kubectl} -n "${tns}" get secret signing-secrets >/dev/null 2>&1; then
    chainlet_key_dir=$(mktemp -d)
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "${chainlet_key_dir}/x509.pem"
    ${KUBECTL_CMD:-kubectl} -n "${tns}" create secret generic signing-secrets \
        --from-file=x509.pem="${chainlet_key_dir}/x509.pem"
    rm -rf "${chainlet_key_dir}"
fi
${KUBECTL_CMD:-kubectl} -n "${tns}" apply -f - <<'CHAINLET_ROLE'
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: chainlet
  labels:
    app.kubernetes.io/name: chainlet
rules:
- apiGroups:
  - tekton.dev
  resources:
  - taskruns
  verbs:
  - get
  - patch
- apiGroups:
  - tekton.dev
  resources:
  - pipelineruns
  verbs:
  - get
  - patch
CHAINLET_ROLE
if ! ${KUBECTL_CMD:-kubectl} -n "${tns}" get rolebinding chainlet-default >/dev/null 2>&1; then
    ${KUBECTL_CMD:-kubectl} -n "${tns}" create rolebinding chainlet-default \
        --role=chainlet --serviceaccount="${tns}:default"
fi
