// Pins the external-secrets module whose ExternalSecret CRD test/cluster/external-secrets-crds.sh
// installs in the tier's API server. Nothing is built from it.
module paddock.test/external-secrets-crds

go 1.24

require github.com/external-secrets/external-secrets v0.16.2
