-- Whether the source leaves out pages due to be sent again whose bytes are those it last sent.
-- Jobs created before the option existed ran with the agent's default, which is to skip them.
ALTER TABLE migration ADD COLUMN skip_unchanged BOOLEAN DEFAULT TRUE NOT NULL;
