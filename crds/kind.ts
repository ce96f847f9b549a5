// The shape every Outrigger kind's definition takes. One zod schema per kind is the single source
// of truth: TypeScript types are inferred from it and the CRD YAML is generated from it.
import type { z } from 'zod';
import type { Reference } from './references.ts';

export const GROUP = 'outrigger.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const CATEGORY = 'outrigger';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface KindDefinition<Spec extends z.ZodType = z.ZodType, Status extends z.ZodType = z.ZodType> {
  kind: string;
  plural: string;
  singular: string;
  listKind: string;
  shortNames: string[];
  description: string;
  spec: Spec;
  status: Status;
  printerColumns: PrinterColumn[];
  /** Every object the spec names (see references.ts); absent when it names none. */
  references?: (spec: z.infer<Spec>) => Reference[];
}
