import { badRequest } from '../errors.ts';
import { campusInstant, normaliseDate, normaliseTime } from '../shared/campus-time.ts';

export interface CheckedWindow {
  visitDate: string;
  start: string;
  end: string;
  windowStart: Date;
  windowEnd: Date;
}

/**
 * The rules of a visit window, shared by the application submit and the host's pre-invitation so that both
 * refuse the same windows with the same codes: a real date and time range, inside the campus opening hours,
 * not started yet.
 */
export function checkVisitWindow(
  campus: { name: string; opens_at: string; closes_at: string },
  raw: { visitDate?: unknown; visitStartTime?: unknown; visitEndTime?: unknown },
  now: Date,
  timeZone: string,
): CheckedWindow {
  const visitDate = normaliseDate(raw.visitDate, timeZone);
  const start = normaliseTime(raw.visitStartTime);
  const end = normaliseTime(raw.visitEndTime);
  if (!visitDate || !start || !end || start >= end) {
    throw badRequest('VISIT_WINDOW_INVALID', '请填写有效的到访日期和时间段（结束时间晚于开始时间）', [
      { field: 'visitEndTime', message: '结束时间应晚于开始时间' },
    ]);
  }
  if (start < campus.opens_at || end > campus.closes_at) {
    const message = `到访时间应在${campus.name}开放时间${campus.opens_at}至${campus.closes_at}之内`;
    // The values too, so that a page in another language can say the same.
    const hours = { campus: campus.name, opensAt: campus.opens_at, closesAt: campus.closes_at };
    throw badRequest('VISIT_WINDOW_OUTSIDE_HOURS', message, [{ field: 'visitStartTime', message, ...hours }]);
  }
  const windowStart = campusInstant(visitDate, start, timeZone);
  const windowEnd = campusInstant(visitDate, end, timeZone);
  if (windowStart.getTime() <= now.getTime()) {
    throw badRequest('VISIT_WINDOW_PAST', '到访时间应晚于当前时间', [{ field: 'visitDate', message: '到访时间应晚于当前时间' }]);
  }
  return { visitDate, start, end, windowStart, windowEnd };
}
