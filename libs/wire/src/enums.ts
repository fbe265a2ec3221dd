import { enumValue, shortName, type EnumInfo } from '@supwalsh/spec';
import { WireConversionError } from './errors.js';

/** `shortName` that must succeed (values coming from an already resolved spec). */
export function requireShortName(fn: string, e: EnumInfo, value: number): string {
  const name = shortName(e, value);
  if (name === undefined) throw new WireConversionError(fn, e.name, `has no value (${value})`);
  return name;
}

/** `enumValue` that must succeed (names coming from the method's resolved types). */
export function requireEnumValue(fn: string, e: EnumInfo, name: string): number {
  const value = enumValue(e, name);
  if (value === undefined) throw new WireConversionError(fn, e.name, `has no value named ${JSON.stringify(name)}`);
  return value;
}
