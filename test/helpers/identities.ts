import { checkDigit } from '../../server/visitors/resident-id.ts';

let serial = 0;

/** A valid resident ID number (GB 11643 check digit) with the given birth date, unique per call. */
export function makeIdNumber(birth = '19900307', options: { female?: boolean } = {}): string {
  serial = (serial + 1) % 500;
  const seq = String(serial * 2 + (options.female ? 0 : 1)).padStart(3, '0');
  const first17 = `110105${birth}${seq}`;
  return first17 + checkDigit(first17);
}

let mobileSerial = 0;
export function makeMobile(): string {
  mobileSerial++;
  return `139${String(process.pid % 10000).padStart(4, '0')}${String(mobileSerial).padStart(4, '0')}`;
}

export function makeVisitor(overrides: Partial<{ name: string; organisation: string; idNumber: string; mobile: string }> = {}) {
  return { name: '张三', organisation: '个人', idNumber: makeIdNumber(), mobile: makeMobile(), ...overrides };
}
