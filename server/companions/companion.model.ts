/**
 * Group visits: one application for several visitors. The people who come with the applicant are rows of the
 * start form's companions data grid (a datagrid with `properties.group = "companions"`, or the key `companions`);
 * each gets a pass of his own, sent to his mobile as a link (he has no account).
 */

/** The most companions one application may list, whatever the form says (the form's own maxLength may be lower). */
export const MAX_COMPANIONS = 20;

/** The component's marker in the form JSON, and the key of the shipped form's grid. */
export const COMPANIONS_GROUP = 'companions';

/** The keys of a row of the grid. */
export const COMPANION_FIELDS = { name: 'name', idNumber: 'idNumber', mobile: 'mobile' } as const;

/** A row of application_companions: identifiers only as ciphertext, blind index and masked copy. */
export interface CompanionRow {
  id: number;
  application_id: number;
  position: number;
  name: string;
  id_number_enc: string;
  id_number_bidx: string;
  id_number_masked: string;
  mobile_enc: string;
  mobile_masked: string;
  created_at: Date;
}

/** A companion as checked at submission, before it is stored: the clear values live only in this object. */
export interface CheckedCompanion {
  position: number;
  name: string;
  idNumber: string;
  idNumberBidx: string;
  mobile: string;
}

/** What staff and the applicant see of a companion: masked identifiers and the state of his pass. */
export interface CompanionView {
  position: number;
  name: string;
  idNumber: string;
  mobile: string;
  /** null until the application is approved and the pass issued */
  pass: { status: 'active' | 'expired' | 'revoked'; onCampus: boolean } | null;
}
