// zod's issues in words: for a configuration the connector's guard refused, and for
// a provider's answer a connector's guard refused. Paths and codes only, never values.

export function describeIssue(issue) {
  switch (issue.code) {
    case 'invalid_type':
      return issue.received === 'undefined' ? 'is required' : `must be ${article(issue.expected)}, not ${article(issue.received)}`;
    case 'invalid_literal':
      return `must be ${JSON.stringify(issue.expected)}`;
    case 'invalid_enum_value':
      return `must be one of ${(issue.options ?? []).map(String).join(', ')}`;
    case 'invalid_string':
      return `is not a valid ${typeof issue.validation === 'string' ? issue.validation : 'value'}`;
    case 'too_small':
      return `is too short or too small (at least ${issue.minimum})`;
    case 'too_big':
      return `is too long or too large (at most ${issue.maximum})`;
    case 'unrecognized_keys':
      return 'has unknown keys';
    case 'invalid_union':
    case 'invalid_union_discriminator':
      return 'does not match any accepted shape';
    default:
      return 'is not valid';
  }
}

function article(t) {
  return /^[aeiou]/.test(String(t)) ? `an ${t}` : `a ${t}`;
}
