package dev.faultline.label;

/** Selector text that does not parse; the message names the problem and where it is. */
public class LabelSelectorException extends IllegalArgumentException {

    private final int position;

    LabelSelectorException(String problem, int position) {
        super("at position " + position + ": " + problem);
        this.position = position;
    }

    /** 0-based offset of the first character that could not be parsed. */
    public int position() {
        return position;
    }
}
