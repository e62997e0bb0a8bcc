/**
 * paddock's construct library: what users write `environments/*.ts` with.
 *
 *   import { Environment, Clone } from 'paddock';
 */
export { Environment, type EnvironmentProps, type ArgoDestination, type RenderedObject, type RegistryCredentialsProps } from './environment.ts';
export { Release, type ReleaseProps, type ReleaseView } from './release.ts';
export { Clone, type CloneProps, type LiveDeploymentRef, type LiveConfigMapRef, type CloneSourceConstruct } from './clone.ts';
export { Workspace, type WorkspaceProps, type WorkspaceOptions, type WorkspaceSpec } from './workspace.ts';
export { LeasePool, type LeasePoolProps, type PooledResource } from './lease-pool.ts';
export { PaddockControlPlane, type PaddockControlPlaneProps, type PaddockGitSshProps } from './paddock-control-plane.ts';
export type { ReleaseRecord, WorkspaceRecord, LeaseRecord } from '../core/records.ts';
