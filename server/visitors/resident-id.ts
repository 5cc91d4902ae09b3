/** Mainland resident identity numbers (GB 11643-1999): 6-digit region, 8-digit birth date, 3-digit sequence, check. */

export type ResidentIdProblem = 'ID_LENGTH' | 'ID_FORMAT' | 'ID_BIRTH_DATE' | 'ID_CHECK_DIGIT';

export const residentIdMessages: Record<ResidentIdProblem, string> = {
  ID_LENGTH: '身份证号应为18位',
  ID_FORMAT: '身份证号格式不正确：前17位应为数字，最后一位为数字或X',
  ID_BIRTH_DATE: '身份证号中的出生日期无效',
  ID_CHECK_DIGIT: '身份证号校验位不正确，请核对后重新输入',
};

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = '10X98765432';

export function checkDigit(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * WEIGHTS[i];
  return CHECK[sum % 11];
}

export interface ResidentId {
  /** Normalised: upper-case X. */
  value: string;
  birthDate: string; // YYYY-MM-DD
  gender: 'M' | 'F';
}

export function parseResidentId(input: string, today: Date = new Date()): ResidentId | ResidentIdProblem {
  const value = input.trim().toUpperCase();
  if (value.length !== 18) return 'ID_LENGTH';
  if (!/^\d{17}[\dX]$/.test(value)) return 'ID_FORMAT';
  const y = Number(value.slice(6, 10));
  const m = Number(value.slice(10, 12));
  const d = Number(value.slice(12, 14));
  const date = new Date(Date.UTC(y, m - 1, d));
  if (
    y < 1900 ||
    date.getUTCFullYear() !== y ||
    date.getUTCMonth() !== m - 1 ||
    date.getUTCDate() !== d ||
    date.getTime() > today.getTime()
  ) {
    return 'ID_BIRTH_DATE';
  }
  if (checkDigit(value.slice(0, 17)) !== value[17]) return 'ID_CHECK_DIGIT';
  return {
    value,
    birthDate: `${value.slice(6, 10)}-${value.slice(10, 12)}-${value.slice(12, 14)}`,
    gender: Number(value[16]) % 2 === 1 ? 'M' : 'F',
  };
}

export const MOBILE_PATTERN = /^1[3-9]\d{9}$/;

/** Accepts +86 / 86 prefixes and spaces or dashes; returns the 11-digit number or null. */
export function normaliseMobile(input: string): string | null {
  let digits = input.replace(/[\s-]/g, '');
  if (digits.startsWith('+86')) digits = digits.slice(3);
  else if (digits.length === 13 && digits.startsWith('86')) digits = digits.slice(2);
  return MOBILE_PATTERN.test(digits) ? digits : null;
}
