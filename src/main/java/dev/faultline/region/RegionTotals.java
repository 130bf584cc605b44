package dev.faultline.region;

/**
 * The overview's numbers for regions, computed where they live: counts and bytes by the
 * database, faults from the statistics the agents last pushed.
 *
 * @param total every region recorded, whatever its state
 * @param attached regions an agent serves now
 * @param detaching regions being populated before they are released
 * @param detached released regions still recorded
 * @param bytesAttached the length of the attached regions, in bytes
 * @param faults faults handled so far in the attached regions (missing + wp + minor)
 */
public record RegionTotals(long total, long attached, long detaching, long detached, long bytesAttached,
        long faults) {
}
