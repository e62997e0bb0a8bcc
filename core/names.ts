/** Kubernetes naming rules paddock checks before anything is written. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A lease pool's type and a leased resource's name (Boskos's are free text; paddock's are path-safe: no `/`, never `.` or `..`). */
export const LEASE_WORD = /^[A-Za-z0-9][-A-Za-z0-9_.]{0,252}$/;

/** The app of apps' name: no group may take it. */
export const ROOT_APP = 'paddock-root';

export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && DNS_LABEL.test(s);
}

export function isDnsSubdomain(s: string): boolean {
  return s.length <= 253 && DNS_SUBDOMAIN.test(s);
}

/** Kinds whose names must be DNS labels (they become DNS names or are read as such). */
export const LABEL_NAMED_KINDS = new Set(['Service', 'Namespace']);

/** Built-in kinds that are cluster-scoped (Kubernetes 1.33): they never carry a namespace. */
export const CLUSTER_SCOPED_KINDS = new Set([
  'Namespace', 'Node', 'PersistentVolume', 'ComponentStatus', 'ClusterRole', 'ClusterRoleBinding',
  'CustomResourceDefinition', 'APIService', 'StorageClass', 'CSIDriver', 'CSINode', 'VolumeAttachment',
  'VolumeAttributesClass', 'PriorityClass', 'IngressClass', 'RuntimeClass', 'IPAddress', 'ServiceCIDR',
  'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration', 'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding', 'MutatingAdmissionPolicy', 'MutatingAdmissionPolicyBinding',
  'CertificateSigningRequest', 'ClusterTrustBundle', 'FlowSchema', 'PriorityLevelConfiguration',
  'TokenReview', 'SubjectAccessReview', 'SelfSubjectAccessReview', 'SelfSubjectRulesReview', 'SelfSubjectReview',
  'DeviceClass', 'ResourceSlice', 'StorageVersion', 'StorageVersionMigration',
]);

/** The API group of an `apiVersion`: `apps/v1` -> `apps`, `v1` -> `` (core). */
export function apiGroupOf(apiVersion: string): string {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * Lowercases and folds anything outside `[a-z0-9-]` into `-`, trims to `max` characters,
 * and strips leading and trailing dashes: a DNS label made from free text.
 */
export function toDnsLabel(text: string, max = 63): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .slice(0, max)
    .replace(/^-+|-+$/g, '');
}
