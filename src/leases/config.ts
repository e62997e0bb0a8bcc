/** Lease pools from `--lease-config FILE` (core/lease-config.ts): a config it cannot read is InvalidConfig. */
import { parseLeaseConfig as parse } from '../../core/lease-config.ts';
import { UserError } from '../errors.ts';
import type { PoolSpec } from './ranch.ts';

export function parseLeaseConfig(text: string, file: string): PoolSpec[] {
  try {
    return parse(text, file);
  } catch (e) {
    throw new UserError('InvalidConfig', (e as Error).message);
  }
}
