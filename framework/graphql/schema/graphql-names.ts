/** How Annals turns declared names (aggregates, commands, events, read models, fields) into GraphQL names. */
const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]*$/

/** 'start-charging', 'start_charging' and 'startCharging' all become 'StartCharging'. */
export function pascalCase(name: string): string {
  const words = name.split(/[^0-9A-Za-z]+/).filter((word) => word.length > 0)
  const joined = words.map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join('')
  return /^[0-9]/.test(joined) ? `_${joined}` : joined
}

/** 'BatteryStatus' becomes 'batteryStatus'; names that are already camel case stay as they are. */
export function camelCase(name: string): string {
  const pascal = pascalCase(name)
  return pascal.charAt(0).toLowerCase() + pascal.slice(1)
}

export function isGraphQLName(name: string): boolean {
  return GRAPHQL_NAME.test(name) && !name.startsWith('__')
}

/**
 * An enum value as GraphQL can spell it: kept when valid, else upper snake case ('y-z' becomes 'Y_Z').
 * With `convert`, a valid value is converted too, so that one enum reads in one style.
 */
export function enumValueName(value: string | number, options?: { readonly convert?: boolean }): string {
  const text = String(value)
  if (!options?.convert && isValidEnumValue(text)) return text
  const snake = text
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^0-9A-Za-z]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase()
  return snake === '' || /^[0-9]/.test(snake) ? `_${snake}` : snake
}

/** Whether GraphQL can spell every value of an enum as it is. */
export function enumValuesKeepTheirNames(values: readonly (string | number)[]): boolean {
  return values.every((value) => isValidEnumValue(String(value)))
}

function isValidEnumValue(text: string): boolean {
  return isGraphQLName(text) && !['true', 'false', 'null'].includes(text)
}
