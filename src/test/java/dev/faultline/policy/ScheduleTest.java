package dev.faultline.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ScheduleTest {

    static Stream<Arguments> expressionsAndTheirNextThreeFireTimes() {
        return Stream.of(
                Arguments.of("30 2 * * *", "UTC", "2026-01-10T12:00:00Z",
                        List.of("2026-01-11T02:30:00Z", "2026-01-12T02:30:00Z", "2026-01-13T02:30:00Z")),
                Arguments.of("0 */20 * * * *", "UTC", "2026-01-10T12:00:00Z",
                        List.of("2026-01-10T12:20:00Z", "2026-01-10T12:40:00Z", "2026-01-10T13:00:00Z")),
                Arguments.of("15 30 4 1 * *", "UTC", "2026-01-10T12:00:00Z",
                        List.of("2026-02-01T04:30:15Z", "2026-03-01T04:30:15Z", "2026-04-01T04:30:15Z")),
                Arguments.of("@hourly", "UTC", "2026-01-10T12:00:00Z",
                        List.of("2026-01-10T13:00:00Z", "2026-01-10T14:00:00Z", "2026-01-10T15:00:00Z")),
                Arguments.of("@daily", "Asia/Kolkata", "2026-01-10T12:00:00Z",
                        List.of("2026-01-10T18:30:00Z", "2026-01-11T18:30:00Z", "2026-01-12T18:30:00Z")),
                Arguments.of("0 0 * * SUN", "UTC", "2026-01-10T12:00:00Z",
                        List.of("2026-01-11T00:00:00Z", "2026-01-18T00:00:00Z", "2026-01-25T00:00:00Z")),
                // 09:00 on weekdays in New York is 14:00 UTC in winter and 13:00 once DST starts (8 March 2026)
                Arguments.of("0 9 * * 1-5", "America/New_York", "2026-03-05T12:00:00Z",
                        List.of("2026-03-05T14:00:00Z", "2026-03-06T14:00:00Z", "2026-03-09T13:00:00Z")));
    }

    @ParameterizedTest(name = "''{0}'' in {1}")
    @MethodSource("expressionsAndTheirNextThreeFireTimes")
    void fiveFieldSixFieldAndMacroExpressionsFireInThePolicysZone(String cron, String zone, String after,
            List<String> expected) {
        List<ZonedDateTime> next = Schedule.of(cron, zone).nextFireTimes(Instant.parse(after), 3);

        assertThat(next).extracting(t -> t.toInstant().toString()).containsExactlyElementsOf(expected);
        assertThat(next).allSatisfy(t -> assertThat(t.getZone().getId()).isEqualTo(zone));
    }

    @Test
    void onTheSpringForwardDayALocalTimeThatDoesNotExistIsSkipped() {
        Schedule at0230 = Schedule.of("30 2 * * *", "Europe/Berlin");

        assertThat(local(at0230.nextFireTimes(Instant.parse("2026-03-27T12:00:00Z"), 3))).containsExactly(
                "2026-03-28T02:30:00+01:00", "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00");
        assertThat(local(Schedule.of("@hourly", "Europe/Berlin").nextFireTimes(Instant.parse("2026-03-29T00:30:00Z"), 2)))
                .as("the hour after 01:00 is 03:00").containsExactly("2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00");
    }

    @Test
    void onTheFallBackDayALocalTimeThatOccursTwiceFiresAtBothInstants() {
        Schedule at0230 = Schedule.of("30 2 * * *", "Europe/Berlin");

        List<ZonedDateTime> next = at0230.nextFireTimes(Instant.parse("2026-10-24T12:00:00Z"), 3);

        assertThat(local(next)).containsExactly(
                "2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00", "2026-10-26T02:30:00+01:00");
        assertThat(next.get(1).toInstant()).isEqualTo(next.get(0).toInstant().plusSeconds(3600));
    }

    @Test
    void theLatestFireTimeCollapsesEveryMissedRunIntoOne() {
        Schedule hourly = Schedule.of("@hourly", "UTC");

        assertThat(hourly.latestFireTime(Instant.parse("2026-01-01T00:00:00Z"), Instant.parse("2026-01-03T05:30:00Z")))
                .contains(Instant.parse("2026-01-03T05:00:00Z"));
        assertThat(hourly.latestFireTime(Instant.parse("2026-01-03T05:00:00Z"), Instant.parse("2026-01-03T06:00:00Z")))
                .as("the end is inclusive").contains(Instant.parse("2026-01-03T06:00:00Z"));
        assertThat(hourly.latestFireTime(Instant.parse("2026-01-03T05:00:00Z"), Instant.parse("2026-01-03T05:59:59Z")))
                .as("the start is exclusive: 05:00 already ran").isEmpty();
    }

    @Test
    void theLatestFireTimeIsFoundQuicklyAfterAYearOfAnEveryMinuteSchedule() {
        Schedule everyMinute = Schedule.of("* * * * *", "UTC");

        assertThat(everyMinute.latestFireTime(Instant.parse("2025-01-01T00:00:00Z"), Instant.parse("2026-01-01T12:34:56Z")))
                .contains(Instant.parse("2026-01-01T12:34:00Z"));
    }

    @Test
    void theLatestFireTimeOfARareScheduleReachesBackYears() {
        Schedule leapDay = Schedule.of("0 0 29 2 *", "UTC");

        assertThat(leapDay.latestFireTime(Instant.parse("2020-03-01T00:00:00Z"), Instant.parse("2027-01-01T00:00:00Z")))
                .contains(Instant.parse("2024-02-29T00:00:00Z"));
        assertThat(leapDay.latestFireTime(Instant.parse("2024-03-01T00:00:00Z"), Instant.parse("2027-01-01T00:00:00Z")))
                .isEmpty();
    }

    @Test
    void badExpressionsAndZonesAreExplained() {
        assertThatThrownBy(() -> Schedule.parseCron("* * *")).hasMessageStartingWith("has 3 fields; expected 5");
        assertThatThrownBy(() -> Schedule.parseCron("61 * * * *")).hasMessageStartingWith("is not a valid cron expression");
        assertThatThrownBy(() -> Schedule.parseCron("@reboot")).hasMessageStartingWith("unknown macro '@reboot'");
        assertThatThrownBy(() -> Schedule.parseCron(" ")).hasMessage("must not be blank");
        assertThatThrownBy(() -> Schedule.parseZone("Mars/Olympus_Mons")).hasMessageStartingWith("must be an IANA time zone");
        assertThatThrownBy(() -> Schedule.parseZone("+02:00")).as("an offset is not a zone: it has no DST rules")
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Schedule.of("@hourly", "CEST")).isInstanceOf(IllegalArgumentException.class);
        assertThat(Schedule.of("0 0 * * MON-FRI", "Europe/Berlin").zone().getId()).isEqualTo("Europe/Berlin");
    }

    private static List<String> local(List<ZonedDateTime> times) {
        return times.stream().map(t -> t.format(DateTimeFormatter.ISO_OFFSET_DATE_TIME)).toList();
    }
}
