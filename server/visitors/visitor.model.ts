import { Model } from 'objection';

export class Visitor extends Model {
  static tableName = 'visitors';
  id!: number;
  name!: string;
  organisation!: string;
  id_number_enc!: string;
  id_number_bidx!: string;
  id_number_masked!: string;
  mobile_enc!: string;
  mobile_bidx!: string;
  mobile_masked!: string;
  gender!: 'M' | 'F';
  birth_date!: string | Date;
  password_hash!: string;
  last_login_at!: Date | null;
  created_at!: Date;
  updated_at!: Date;
}

/** What any API response may show of a visitor: identifiers masked. */
export function publicVisitor(v: Visitor) {
  const birth = v.birth_date instanceof Date ? v.birth_date.toISOString().slice(0, 10) : String(v.birth_date).slice(0, 10);
  return {
    id: v.id,
    name: v.name,
    organisation: v.organisation,
    idNumber: v.id_number_masked,
    mobile: v.mobile_masked,
    gender: v.gender,
    birthDate: birth,
  };
}
